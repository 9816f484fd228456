"""Roles, what each may do, and the viewer: who is looking at the data.

A login has one role. What a role may *see* is the scope rule (``access.scope``); what it
may *do* is the table below, read through ``Viewer.can``:

=============  =====  ===  ======  =======  ===  =======
action         admin  ceo  leader  manager  rep  analyst
=============  =====  ===  ======  =======  ===  =======
manage_users   yes
edit_items            yes  yes     yes      yes
hold_meeting          yes  yes
call_forecast              yes
import         yes         yes                   yes
edit_settings  yes    yes  yes                   yes
see_all        yes    yes  yes                   yes
=============  =====  ===  ======  =======  ===  =======

Managers and reps edit only the items they can see (their own, or ones about their
deals). Only the sales leader records the forecast call: the call is the leader's,
and the brief reads the latest one as such. ``edit_settings`` covers targets, the target
mix and the risk thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quarterdeck.errors import InputError, NotAllowed
from quarterdeck.model import ROLES

__all__ = ["ACTIONS", "ALLOWED", "ROLES", "SEES_ALL", "Viewer", "check_role"]

ACTIONS = (
    "manage_users",
    "edit_items",
    "hold_meeting",
    "call_forecast",
    "import",
    "edit_settings",
    "see_all",
)
"""What ``Viewer.can`` answers for."""

SEES_ALL = ("admin", "ceo", "leader", "analyst")
"""Roles that see every deal; managers see their team's and reps their own."""

ALLOWED: dict[str, frozenset[str]] = {
    "admin": frozenset({"manage_users", "import", "edit_settings", "see_all"}),
    "ceo": frozenset({"edit_items", "hold_meeting", "edit_settings", "see_all"}),
    "leader": frozenset(
        {"edit_items", "hold_meeting", "call_forecast", "import", "edit_settings", "see_all"}
    ),
    "manager": frozenset({"edit_items"}),
    "rep": frozenset({"edit_items"}),
    "analyst": frozenset({"import", "edit_settings", "see_all"}),
}
"""Role -> the actions it may do (the table in this module's docstring)."""

_WHAT = {
    "manage_users": "manage logins",
    "edit_items": "change meeting items",
    "hold_meeting": "hold the meeting or write its notes",
    "call_forecast": "record the forecast call",
    "import": "import data",
    "edit_settings": "change targets and settings",
    "see_all": "see every deal",
}


def check_role(role: Any) -> str:
    """``role`` as a known role name, lower case, or an InputError listing the roles."""
    text = role.strip().lower() if isinstance(role, str) else role
    if text not in ROLES:
        raise InputError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    return str(text)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a login, its role, and the CRM user (and team) it stands for.

    ``user_id`` is the login's CRM user (``users.user_id``, the ``deals.owner_id`` of a
    rep's deals); ``team`` that user's team in ``users``, which a manager's scope reads.
    """

    email: str
    name: str
    role: str
    user_id: str | None = None
    team: str | None = None

    def can(self, action: str) -> bool:
        """Whether the role allows ``action`` (one of ``ACTIONS``)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}: expected one of {', '.join(ACTIONS)}")
        return action in ALLOWED.get(self.role, frozenset())

    def require(self, action: str) -> None:
        """Raise NotAllowed unless the role allows ``action``."""
        if not self.can(action):
            raise NotAllowed(
                f"a {self.role} login may not {_WHAT[action]} ({self.email})", action=action
            )

    @property
    def sees_all(self) -> bool:
        """Whether the viewer sees every deal (admin, ceo, leader, analyst)."""
        return self.role in SEES_ALL

    @property
    def who(self) -> str:
        """How the viewer is named in records it writes (items' ``by``, the audit log):
        the email, the login's key."""
        return self.email

    def as_dict(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "user_id": self.user_id,
            "team": self.team,
            "sees_all": self.sees_all,
            "can": sorted(ALLOWED.get(self.role, frozenset())),
        }
