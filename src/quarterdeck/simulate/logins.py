"""Web logins for the demo company: its CEO, its sales leader, a manager and a rep, so that
``quarterdeck serve`` on the demo database shows each role's view at once.

Each login is the CRM user it names (their email from ``users``) with a new random
password, written through the Workspace as an admin's would be.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis

if TYPE_CHECKING:
    from quarterdeck.workspace import Workspace

__all__ = ["DemoLogin", "add_demo_logins"]


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    name: str
    password: str


def add_demo_logins(ws: Workspace) -> list[DemoLogin]:
    """A login for the CEO, the sales leader, the manager of the largest team and the rep
    with the most deals of the demo company (each with a new random password)."""
    store = ws.store
    users = store.table("users")
    deals = store.table("deals")
    owned = deals.group_by(user_id=deals.owner_id).agg(n=deals.count())
    people = store.to_arrow(
        users.left_join(owned, "user_id")
        .select("user_id", "name", "email", "role", "team", n=ibis._.n.fill_null(0))
        .order_by([ibis.desc("n"), "user_id"])
    ).to_pylist()
    chosen = {}
    for person in people:
        if person["role"] in ("ceo", "leader", "rep") and person["role"] not in chosen:
            chosen[person["role"]] = person
    teams = [p["team"] for p in people if p["role"] == "rep" and p["team"]]
    largest = max(set(teams), key=lambda t: (teams.count(t), t)) if teams else None
    for person in people:
        if person["role"] == "manager" and person["team"] == largest:
            chosen["manager"] = person
            break
    made = []
    for role in ("ceo", "leader", "manager", "rep"):
        person = chosen.get(role)
        if person is None or not person["email"]:
            continue
        password = secrets.token_urlsafe(9)
        ws.add_login(
            person["email"],
            password,
            role,
            user_id=person["user_id"] if role in ("manager", "rep") else None,
            name=person["name"],
            by="demo",
        )
        made.append(DemoLogin(person["email"], role, person["name"] or role, password))
    return made
