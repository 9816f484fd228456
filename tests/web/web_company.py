"""A small simulated company with logins of each role (the ceo, the leader, an admin, and
two reps who own different deals), and how a test client logs in.

The HTTP tests import these helpers from here (not from ``conftest``, whose module name
every test folder shares); ``conftest`` builds the company once per module on each engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient

from quarterdeck import Workspace
from quarterdeck.simulate import SimulationSpec, simulate

__all__ = ["PASSWORD", "Company", "build_company", "log_in", "login_token"]

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Company:
    db: str
    engine: str
    rep_a: str
    rep_b: str
    deal_of_a: str
    deal_of_b: str


def build_company(db: str, engine: str, folder: Path) -> Company:
    """Import a 300-deal simulated company into ``db`` and give it its logins."""
    export = folder / "export"
    simulate(SimulationSpec(deals=300, end=date(2026, 11, 20), seed=11), export)
    with Workspace(db) as ws:
        ws.import_files([export])
        deals = ws.store.to_arrow(
            ws.store.table("deals").select("deal_id", "owner_id").order_by("deal_id")
        ).to_pylist()
        owners = sorted({d["owner_id"] for d in deals if d["owner_id"]})
        rep_a, rep_b = owners[0], owners[1]
        deal_of_a = next(d["deal_id"] for d in deals if d["owner_id"] == rep_a)
        deal_of_b = next(d["deal_id"] for d in deals if d["owner_id"] == rep_b)
        ws.add_login("admin@example.com", PASSWORD, "admin", by="test")
        ws.add_login("ceo@example.com", PASSWORD, "ceo", by="test")
        ws.add_login("leader@example.com", PASSWORD, "leader", by="test")
        ws.add_login("a@example.com", PASSWORD, "rep", user_id=rep_a, by="test")
        ws.add_login("b@example.com", PASSWORD, "rep", user_id=rep_b, by="test")
    return Company(db, engine, rep_a, rep_b, deal_of_a, deal_of_b)


def login_token(client: TestClient) -> str:
    """Open the login page on ``client``; return its form's CSRF token."""
    page = client.get("/login")
    return page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def log_in(client: TestClient, email: str) -> str:
    """Log ``email`` in on ``client`` (its cookies); return the session's CSRF token."""
    client.cookies.clear()
    token = login_token(client)
    response = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf": token, "next": "/meeting"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    session = client.get("/api/session")
    assert session.status_code == 200
    csrf: str = session.json()["csrf"]
    return csrf
