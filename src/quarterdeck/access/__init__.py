"""Access: logins, roles, the rule of who sees what, sessions, and the audit log.

* ``roles``: the roles, what each may do (``Viewer.can``), and the viewer.
* ``logins``: logins keyed by email with argon2 password hashes; logging in, throttled.
* ``sessions``: web sessions, their tokens kept only as hashes, each with a CSRF token.
* ``scope``: the one rule of which rows a viewer sees, applied by the store to every read.
* ``audit``: the log of every change to items, calls, meetings, targets, settings, logins.

The Workspace is the way in: ``add_login``, ``log_in``, ``open_session``, ``session``,
``as_viewer``, ``audit``... (see ``quarterdeck.workspace``).
"""

from __future__ import annotations

from quarterdeck.access.audit import AuditedSettings, AuditEntry
from quarterdeck.access.logins import Login
from quarterdeck.access.roles import ACTIONS, ROLES, Viewer
from quarterdeck.access.scope import ViewerScope, scope_for
from quarterdeck.access.sessions import Session
from quarterdeck.errors import LoginRefused, NotAllowed

__all__ = [
    "ACTIONS",
    "ROLES",
    "AuditEntry",
    "AuditedSettings",
    "Login",
    "LoginRefused",
    "NotAllowed",
    "Session",
    "Viewer",
    "ViewerScope",
    "scope_for",
]
