"""A small company, written by hand, for the access tests.

People (users)                      Deals (2024-Q3; amounts exact)
  u1 Rita  rep      east  mgr m1      D1 u1 won  2024-07-03  1000.00  A1
  u2 Sam   rep      east  mgr m1      D2 u1 open 2024-08-15  2500.00  A2  Proposal
  u4 Ola   rep      (no team) mgr m1  D3 u2 won  2024-07-10   400.00  A1
  m1 Mona  manager  east              D4 u2 open 2024-09-01   600.00  A3  Qualify
  u3 Xi    rep      west  mgr m2      D5 u3 won  2024-07-20  5000.00  A4
  m2 Max   manager  west              D6 u3 open 2024-09-20  7000.00  A4  Negotiate
  c1 Cleo  ceo                        D7 u4 open 2024-08-01   300.00  A5  Qualify
                                      D8 m1 won  2024-08-02    50.00  A3

D1 and D5 have a history (created in Qualify on 2024-06-01 with their amount and close
date, won on that date); the other deals have none. So rep u1 sees D1, D2; manager m1 (team east, and u4 through manager_id) sees D1, D2, D3,
D4, D7, D8; manager m2 sees D5, D6; the CEO sees all eight.

Targets 2024-Q3: company 20000, team east 5000, team west 12000, rep u1 2000,
rep u2 1500, rep u3 10000, segment SMB 3000.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from quarterdeck.model import TABLES
from quarterdeck.store import Store
from quarterdeck.workspace import Workspace

PASSWORD = "correct horse battery"
NOW = datetime(2024, 8, 20, 9, 0)

STAGES = (
    ("Qualify", 1, False, False),
    ("Proposal", 2, False, False),
    ("Negotiate", 3, False, False),
    ("Closed Won", 4, True, True),
    ("Closed Lost", 5, True, False),
)


def put(store: Store, table: str, *rows: dict[str, Any]) -> None:
    schema = TABLES[table].schema.to_pyarrow()
    store.insert(table, pa.Table.from_pylist(list(rows), schema=schema))


def _deal(deal_id: str, owner: str, outcome: str, close: date, amount: str, account: str,
          stage: str | None = None) -> dict[str, Any]:  # fmt: skip
    won = outcome == "won"
    return {
        "deal_id": deal_id,
        "owner_id": owner,
        "account_id": account,
        "name": f"{deal_id} deal",
        "motion": "new_business",
        "amount": Decimal(amount),
        "stage": stage or ("Closed Won" if won else "Qualify"),
        "close_date": close,
        "is_closed": won,
        "is_won": won,
        "pipeline": "sales",
        "created_at": datetime(2024, 6, 1),
    }


def write_company(store: Store) -> None:
    """The company of this module's docstring."""
    put(
        store,
        "stages",
        *[
            {"pipeline": "sales", "stage": s, "sort_order": o, "is_closed": c, "is_won": w}
            for s, o, c, w in STAGES
        ],
    )
    put(
        store,
        "users",
        {"user_id": "u1", "name": "Rita", "role": "rep", "team": "east", "manager_id": "m1"},
        {"user_id": "u2", "name": "Sam", "role": "rep", "team": "east", "manager_id": "m1"},
        {"user_id": "u4", "name": "Ola", "role": "rep", "team": None, "manager_id": "m1"},
        {"user_id": "m1", "name": "Mona", "role": "manager", "team": "east"},
        {"user_id": "u3", "name": "Xi", "role": "rep", "team": "west", "manager_id": "m2"},
        {"user_id": "m2", "name": "Max", "role": "manager", "team": "west"},
        {"user_id": "c1", "name": "Cleo", "role": "ceo"},
    )
    put(
        store,
        "accounts",
        *[{"account_id": a, "name": f"Account {a}", "segment": "SMB"} for a in
          ("A1", "A2", "A3", "A4", "A5")],
    )  # fmt: skip
    put(
        store,
        "deals",
        _deal("D1", "u1", "won", date(2024, 7, 3), "1000.00", "A1"),
        _deal("D2", "u1", "open", date(2024, 8, 15), "2500.00", "A2", "Proposal"),
        _deal("D3", "u2", "won", date(2024, 7, 10), "400.00", "A1"),
        _deal("D4", "u2", "open", date(2024, 9, 1), "600.00", "A3"),
        _deal("D5", "u3", "won", date(2024, 7, 20), "5000.00", "A4"),
        _deal("D6", "u3", "open", date(2024, 9, 20), "7000.00", "A4", "Negotiate"),
        _deal("D7", "u4", "open", date(2024, 8, 1), "300.00", "A5"),
        _deal("D8", "m1", "won", date(2024, 8, 2), "50.00", "A3"),
    )
    created = datetime(2024, 6, 1)
    put(
        store,
        "deal_events",
        {"deal_id": "D1", "at": created, "field": "stage", "new_value": "Qualify", "seq": 1},
        {"deal_id": "D1", "at": created, "field": "amount", "new_value": "1000.00", "seq": 2},
        {"deal_id": "D1", "at": created, "field": "close_date", "new_value": "2024-07-03",
         "seq": 3},
        {"deal_id": "D1", "at": datetime(2024, 7, 3), "field": "stage", "old_value": "Qualify",
         "new_value": "Closed Won", "seq": 4},
        {"deal_id": "D5", "at": created, "field": "stage", "new_value": "Qualify", "seq": 5},
        {"deal_id": "D5", "at": created, "field": "amount", "new_value": "5000.00", "seq": 6},
        {"deal_id": "D5", "at": created, "field": "close_date", "new_value": "2024-07-20",
         "seq": 7},
        {"deal_id": "D5", "at": datetime(2024, 7, 20), "field": "stage", "old_value": "Qualify",
         "new_value": "Closed Won", "seq": 8},
    )  # fmt: skip
    put(
        store,
        "activities",
        {"activity_id": "a1", "deal_id": "D1", "account_id": "A1", "at": datetime(2024, 6, 5)},
        {"activity_id": "a2", "deal_id": "D5", "account_id": "A4", "at": datetime(2024, 6, 6)},
        {"activity_id": "a3", "deal_id": None, "account_id": "A1", "at": datetime(2024, 6, 7)},
        {"activity_id": "a4", "deal_id": None, "account_id": "A4", "at": datetime(2024, 6, 8)},
    )
    q3 = {"period_start": date(2024, 7, 1), "period_end": date(2024, 9, 30)}
    put(
        store,
        "targets",
        {**q3, "scope": "company", "scope_id": "", "amount": Decimal("20000.00")},
        {**q3, "scope": "team", "scope_id": "east", "amount": Decimal("5000.00")},
        {**q3, "scope": "team", "scope_id": "west", "amount": Decimal("12000.00")},
        {**q3, "scope": "rep", "scope_id": "u1", "amount": Decimal("2000.00")},
        {**q3, "scope": "rep", "scope_id": "u2", "amount": Decimal("1500.00")},
        {**q3, "scope": "rep", "scope_id": "u3", "amount": Decimal("10000.00")},
        {**q3, "scope": "segment", "scope_id": "SMB", "amount": Decimal("3000.00")},
    )


def add_logins(ws: Workspace) -> None:
    """One login per role that matters: rep Rita (u1), manager Mona (m1), manager Max
    (m2), CEO Cleo, and an admin."""
    for email, role, user in (
        ("rita@example.com", "rep", "u1"),
        ("mona@example.com", "manager", "m1"),
        ("max@example.com", "manager", "m2"),
        ("cleo@example.com", "ceo", "c1"),
        ("admin@example.com", "admin", None),
        ("lee@example.com", "leader", None),
    ):
        ws.add_login(email, PASSWORD, role, user_id=user, by="setup", now=NOW)


def viewer(ws: Workspace, email: str) -> Workspace:
    """The workspace as the login ``email`` sees it, logged in with the password."""
    return ws.as_viewer(ws.log_in(email, PASSWORD, now=NOW))
