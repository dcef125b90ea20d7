"""Access control: users and their roles, sessions, wall-display devices, the web guard
(docs/security.md). ``current_principal()`` tells the read model and the pages who asks
(role, sectors, communes, ``pii``); outside a request it is nobody, without PII."""

from ioc.auth.roles import ANONYMOUS, Principal
from ioc.auth.web import current_principal

__all__ = ["ANONYMOUS", "Principal", "current_principal"]
