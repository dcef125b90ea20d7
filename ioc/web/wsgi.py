"""WSGI entry point for gunicorn: `gunicorn ioc.web.wsgi:server`."""

from ioc.settings import configure_logging, get_settings
from ioc.web.app import create_app

configure_logging(get_settings())  # IOC_LOG_LEVEL for the web process's own log lines
app = create_app()
server = app.server
