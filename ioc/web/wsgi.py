"""WSGI entry point for gunicorn: `gunicorn ioc.web.wsgi:server`."""

from ioc.web.app import create_app

app = create_app()
server = app.server
