"""A real server and a real browser: the web app under uvicorn on a free loopback port,
driven by Debian's Chromium through Playwright, on a DuckDB file and on PostgreSQL.

Each test module gets a company of its own on each engine (``company``, built once per
module and engine). What the tests check is read straight from the database when the
company is built (``Facts``), before the server holds it, so the expectations never come
from the pages under test. Screenshots of the pages land in
``test-output/screenshots/<engine>/``.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from testdata import ROOT

from quarterdeck.workspace import Workspace

SCREENSHOTS = ROOT / "test-output" / "screenshots"
PASSWORD = "correct horse battery"
DATA_END = date.today() - timedelta(days=2)
"""The simulated export ends two days ago, so the data describes this week or the last."""


@dataclass(frozen=True)
class Facts:
    """The database as built, read row by row: what the tests work their numbers out from."""

    data_as_of: datetime
    owners: dict[str, str | None]  # deal_id -> owner_id, every deal
    won: list[tuple[str, Decimal, date]]  # id, amount and close date of every won deal
    company_targets: list[tuple[date, date, Decimal]]  # period start, end, amount


@dataclass
class Company:
    """A served simulated company: where it lives, who can log in, what it holds."""

    db: str
    url: str
    engine: str
    reps: tuple[str, str]  # CRM user ids of the two reps with the most deals
    logins: dict[str, str]  # role or rep id -> email
    facts: Facts
    console: list[str] = field(default_factory=list)

    def shot(self, page: Any, name: str) -> None:
        """Save a full-page screenshot as ``<engine>/<name>.png``."""
        folder = SCREENSHOTS / self.engine
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    def log_in(self, page: Any, who: str, password: str = PASSWORD) -> None:
        """Log ``who`` (a role or a rep's user id) in through the login form."""
        page.goto(f"{self.url}/login")
        page.fill("input[name=email]", self.logins[who])
        page.fill("input[name=password]", password)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_load_state("networkidle")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rows(ws: Workspace, name: str, *columns: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ws.store.to_arrow(
        ws.store.table(name).select(*columns)
    ).to_pylist()
    return rows


def company_in(db: str, folder: Path) -> tuple[tuple[str, str], dict[str, str], Facts]:
    """Import a small simulated company into ``db``, give it logins, and read its facts."""
    from quarterdeck.simulate import SimulationSpec, simulate

    simulate(SimulationSpec(deals=400, years=1.0, end=DATA_END, seed=11), folder / "x")
    with Workspace(db) as ws:
        ws.import_files([folder / "x"])
        deals = _rows(ws, "deals", "deal_id", "owner_id", "amount", "close_date", "is_won")
        owners = {d["deal_id"]: d["owner_id"] for d in deals}
        counts: dict[str, int] = {}
        for owner in owners.values():
            if owner:
                counts[owner] = counts.get(owner, 0) + 1
        ranked = sorted(counts, key=lambda o: (-counts[o], o))
        reps = (ranked[0], ranked[1])
        logins = {
            "admin": "admin@example.com",
            "ceo": "ceo@example.com",
            "leader": "leader@example.com",
            reps[0]: "rep.one@example.com",
            reps[1]: "rep.two@example.com",
        }
        for role in ("admin", "ceo", "leader"):
            ws.add_login(logins[role], PASSWORD, role, name=role.title(), by="test")
        for n, rep in enumerate(reps):
            ws.add_login(logins[rep], PASSWORD, "rep", user_id=rep, name=f"Rep {n + 1}", by="test")
        targets = _rows(ws, "targets", "period_start", "period_end", "scope", "amount")
        as_of = max(r["as_of"] for r in _rows(ws, "imports", "as_of"))
    facts = Facts(
        data_as_of=as_of.replace(tzinfo=None),
        owners=owners,
        won=[
            (d["deal_id"], d["amount"], d["close_date"])
            for d in deals
            if d["is_won"] and d["close_date"]
        ],
        company_targets=[
            (t["period_start"], t["period_end"], t["amount"])
            for t in targets
            if t["scope"] == "company"
        ],
    )
    return reps, logins, facts
