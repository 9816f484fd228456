"""Tiny hand-written stores for the metric tests.

Each test writes the few rows it reasons about into a fresh DuckDB file, so every expected
number can be worked out by hand from what is on the screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from quarterdeck.model import TABLES
from quarterdeck.store import Store

Rows = Callable[..., None]
DealFactory = Callable[..., dict[str, Any]]
Writer = Callable[[Store, str, list[dict[str, Any]]], None]

STAGES = (
    # stage, sort_order, is_closed, is_won
    ("Prospect", 1, False, False),
    ("Qualify", 2, False, False),
    ("Proposal", 3, False, False),
    ("Negotiate", 4, False, False),
    ("Closed Won", 5, True, True),
    ("Closed Lost", 6, True, False),
)


def insert(store: Store, table: str, rows: list[dict[str, Any]]) -> None:
    """Append ``rows`` (dicts; missing columns are null) to a canonical table."""
    schema = TABLES[table].schema.to_pyarrow()
    store.insert(table, pa.Table.from_pylist(rows, schema=schema))


def new_store(folder: Path) -> Store:
    """A fresh store in ``folder`` with the standard stages of pipeline ``sales``."""
    store = Store(folder / "t.duckdb")
    insert(
        store,
        "stages",
        [
            {"pipeline": "sales", "stage": s, "sort_order": o, "is_closed": c, "is_won": w}
            for s, o, c, w in STAGES
        ],
    )
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = new_store(tmp_path)
    yield s
    s.close()


@pytest.fixture
def make_store(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Store]:
    """A factory of fresh stores, for property tests that need one per example."""

    def make() -> Store:
        return new_store(tmp_path_factory.mktemp("prop"))

    return make


@pytest.fixture
def put(store: Store) -> Rows:
    """``put("deals", {...}, {...})`` appends the rows to the test's store."""

    def _put(table: str, *rows: dict[str, Any]) -> None:
        insert(store, table, list(rows))

    return _put


def make_deal(
    deal_id: str,
    outcome: str,
    amount: str | None,
    close: date,
    owner: str | None = "u1",
    account: str | None = "a1",
    motion: str | None = "new_business",
    stage: str | None = None,
) -> dict[str, Any]:
    """A deals row. ``outcome`` is won, lost or open; amounts are written as text so the
    cents in the test are exactly the cents stored."""
    flags = {"won": (True, True), "lost": (True, False), "open": (False, False)}
    is_closed, is_won = flags[outcome]
    default_stage = {"won": "Closed Won", "lost": "Closed Lost", "open": "Qualify"}[outcome]
    return {
        "deal_id": deal_id,
        "account_id": account,
        "owner_id": owner,
        "motion": motion,
        "amount": None if amount is None else Decimal(amount),
        "stage": stage or default_stage,
        "close_date": close,
        "is_closed": is_closed,
        "is_won": is_won,
        "pipeline": "sales",
    }


@pytest.fixture
def deal() -> DealFactory:
    """``deal("d1", "won", "1200.50", date(...), owner=..., ...)`` builds a deals row."""
    return make_deal


@pytest.fixture
def write() -> Writer:
    """``write(store, "deals", [rows])``: ``put`` for a store that is not the test's own."""
    return insert


class History:
    """``history(deal_id, when, stage=..., amount=...)`` writes deal_events rows in the
    order given, numbering ``seq`` as it goes; a date means noon that day."""

    def __init__(self, put: Rows) -> None:
        self.put = put
        self.seq = count(1)

    def __call__(self, deal_id: str, when: datetime | date, **values: str | None) -> None:
        if not isinstance(when, datetime):
            when = datetime.combine(when, datetime.min.time()) + timedelta(hours=12)
        self.put(
            "deal_events",
            *[
                {
                    "deal_id": deal_id,
                    "at": when,
                    "field": name,
                    "new_value": value,
                    "origin": "history",
                    "seq": next(self.seq),
                }
                for name, value in values.items()
            ],
        )


@pytest.fixture
def history(put: Rows) -> History:
    """Deal events for the test's store (see :class:`History`)."""
    return History(put)
