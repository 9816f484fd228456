"""Reading and writing the meeting-record tables through the store.

Every write of the meeting record goes through ``writing(store)``: one transaction, so a
failed or killed write leaves nothing half-written. On a shared PostgreSQL server the
transaction also locks the record's tables against other writers, because new item and
call ids are the next free number and two writers must not both take it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from quarterdeck.errors import InputError
from quarterdeck.model import TABLES
from quarterdeck.store import Store

__all__ = ["RECORD_TABLES", "insert_rows", "moment", "read_rows", "replace_rows", "writing"]

RECORD_TABLES = ("meetings", "items", "item_updates", "forecast_calls")
"""The tables of the meeting record, locked together while one of them is written."""


def moment(now: datetime | None) -> datetime:
    """``now`` as a naive UTC time to the second (the clock's time when None).

    An aware time is converted to UTC; seconds are the resolution of the record, and ties
    within a second are ordered by ``seq``.
    """
    if now is None:
        now = datetime.now(UTC)
    if not isinstance(now, datetime):
        raise InputError(f"now must be a date and time, not {now!r}")
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    return now.replace(microsecond=0)


@contextlib.contextmanager
def writing(store: Store) -> Iterator[None]:
    """One transaction for one write of the record: all of it lands, or none of it."""
    with store.transaction():
        if store.target.engine == "postgres":
            cursor = store.backend.raw_sql(
                f"LOCK TABLE {', '.join(RECORD_TABLES)} IN SHARE ROW EXCLUSIVE MODE"
            )
            cursor.close()
        yield


def read_rows(store: Store, expr: ir.Table) -> list[dict[str, Any]]:
    """The rows of ``expr`` as dicts of Python values (dates, datetimes, Decimals)."""
    return store.to_arrow(expr).to_pylist()  # type: ignore[no-any-return]


def insert_rows(store: Store, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append ``rows`` (dicts; missing columns are null) to a canonical table."""
    if not rows:
        return
    schema = TABLES[table].schema.to_pyarrow()
    store.insert(table, pa.Table.from_pylist([dict(r) for r in rows], schema=schema))


def replace_rows(store: Store, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write ``rows`` in place of the rows with the same key (an update as delete + insert,
    the same on every engine; callers run it inside ``writing``)."""
    if not rows:
        return
    key = TABLES[table].key
    keys = pa.table({k: pa.array([r[k] for r in rows], pa.string()) for k in key})
    store.delete_matching(table, store.stage(keys))
    insert_rows(store, table, rows)
