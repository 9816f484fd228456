"""A simulated company through the real Salesforce import path: history rebuilt as of any
time, owner changes included; and the CLI commands a newcomer runs first."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.compute as pc
import pytest

from quarterdeck.history import deals_as_of
from quarterdeck.importer import ImportRequest, run_import
from quarterdeck.simulate import SimulationSpec, simulate
from quarterdeck.store import Store
from quarterdeck.workspace import Workspace

CLI = [sys.executable, "-m", "quarterdeck.cli"]


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Store]:
    folder = tmp_path_factory.mktemp("sim")
    export = folder / "export"
    simulate(SimulationSpec(deals=1500, years=2, end=date(2026, 6, 30), seed=11), export)
    store = Store(folder / "q.duckdb")
    run_import(store, ImportRequest((export,)))
    return export, store


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _state(store: Store, at: datetime, deal: str) -> dict[str, object]:
    table = store.to_arrow(deals_as_of(store, at))
    return table.filter(pc.equal(table.column("deal_id"), deal)).to_pylist()[0]


def test_counts_match_the_files(company: tuple[Path, Store]) -> None:
    export, store = company
    opportunities = _rows(export / "Opportunity.csv")
    assert store.scalar(store.table("deals").count()) == len(opportunities)
    won = sum(Decimal(r["Amount"]) for r in opportunities if r["IsWon"] == "1")
    deals = store.table("deals")
    assert store.scalar(deals.filter(deals.is_won).amount.sum()) == won


def test_stage_amount_and_close_date_as_of_history_rows(company: tuple[Path, Store]) -> None:
    export, store = company
    by_deal: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in _rows(export / "OpportunityHistory.csv"):
        by_deal[row["OpportunityId"]].append(row)
    checked = 0
    for deal, rows in sorted(by_deal.items())[:40]:
        rows.sort(key=lambda r: (r["CreatedDate"], r["Id"]))
        for i, row in enumerate(rows):
            if i + 1 < len(rows) and rows[i + 1]["CreatedDate"] == row["CreatedDate"]:
                continue  # a later row at the same second is the state at that second
            state = _state(store, datetime.fromisoformat(row["CreatedDate"]), deal)
            assert state["stage"] == row["StageName"], (deal, row["CreatedDate"])
            assert state["amount"] == Decimal(row["Amount"]).quantize(Decimal("0.01"))
            assert state["close_date"].isoformat() == row["CloseDate"][:10]
            checked += 1
    assert checked > 100


def test_owner_as_of_field_history(company: tuple[Path, Store]) -> None:
    export, store = company
    changes = [r for r in _rows(export / "OpportunityFieldHistory.csv") if r["Field"] == "Owner"]
    assert changes, "the simulated company reassigns some deals"
    for change in changes[:10]:
        at = datetime.fromisoformat(change["CreatedDate"])
        deal = change["OpportunityId"]
        assert _state(store, at - timedelta(seconds=1), deal)["owner_id"] == change["OldValue"]
        assert _state(store, at, deal)["owner_id"] == change["NewValue"]


def test_cli_status_json_and_demo(tmp_path: Path) -> None:
    demo = subprocess.run(
        [*CLI, "demo", "--folder", str(tmp_path / "demo"), "--deals", "800"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr
    assert "win rate" in demo.stdout and "Open pipeline" in demo.stdout
    status = subprocess.run(
        [*CLI, "--db", str(tmp_path / "demo" / "quarterdeck.duckdb"), "status", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(status.stdout)
    for key in (
        "deals",
        "deal_events",
        "accounts",
        "users",
        "imports",
        "won_amount",
        "open_amount",
    ):
        assert key in figures
    # The demo's web logins work with the passwords it printed, one per role.
    printed = re.findall(r"^  (\w+) +(\S+@\S+) +password (\S+)$", demo.stdout, re.MULTILINE)
    assert [role for role, _, _ in printed] == ["ceo", "leader", "manager", "rep"]
    with Workspace(tmp_path / "demo" / "quarterdeck.duckdb") as ws:
        for role, email, password in printed:
            assert ws.log_in(email, password).role == role
    assert figures["imports"] == 1 and figures["deals"] > 700
    assert Decimal(figures["won_amount"]) > 0
