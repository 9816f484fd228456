"""The audit log: every change to items, forecast calls, meetings, targets, settings and
logins, with who made it, when, and the object before and after (as JSON).

The Workspace writes the entry inside the same transaction as the change it records, so
a change is never without its entry, nor an entry without its change. Passwords and
their hashes are never written here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from quarterdeck.access.roles import Viewer
from quarterdeck.errors import InputError
from quarterdeck.meeting.tables import moment, read_rows
from quarterdeck.model import TABLES
from quarterdeck.settings import Settings
from quarterdeck.store import Store

__all__ = [
    "KINDS",
    "AuditEntry",
    "AuditedSettings",
    "append_rows",
    "entries",
    "local_user",
    "record",
]

KINDS = ("item", "call", "meeting", "target", "setting", "login")
"""What the audit log records changes of."""


def append_rows(store: Store, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append ``rows`` (dicts; missing columns null) to one of the access tables, keeping
    the store's cache: no remembered result is built from logins, sessions or the log."""
    schema = TABLES[table].schema.to_pyarrow()
    data = pa.Table.from_pylist([dict(r) for r in rows], schema=schema)
    store.insert(table, data, keep_cache=True)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to the audit log")


def _json(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(dict(value), default=_plain, sort_keys=True)


@dataclass(frozen=True)
class AuditEntry:
    """One change: when, by whom, to what (``kind`` and ``object_id``), how (``action``),
    and the object before and after it (None for an object added or removed)."""

    seq: int
    at: datetime
    who: str | None
    kind: str
    object_id: str | None
    action: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def changed(self) -> dict[str, tuple[Any, Any]]:
        """The fields whose value differs between before and after: {field: (old, new)}."""
        before, after = self.before or {}, self.after or {}
        return {
            k: (before.get(k), after.get(k))
            for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "who": self.who,
            "kind": self.kind,
            "object_id": self.object_id,
            "action": self.action,
            "before": self.before,
            "after": self.after,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AuditEntry:
        return cls(
            seq=row["seq"],
            at=row["at"],
            who=row["who"],
            kind=row["kind"],
            object_id=row["object_id"],
            action=row["action"],
            before=None if row["before"] is None else json.loads(row["before"]),
            after=None if row["after"] is None else json.loads(row["after"]),
        )


def record(
    store: Store,
    kind: str,
    object_id: str | None,
    action: str,
    *,
    who: str | None,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry (call it inside the transaction of the change it records)."""
    if kind not in KINDS:
        raise ValueError(f"unknown audit kind {kind!r}")
    with store.transaction(keep_cache=True):
        store.lock("audit_log")  # two writers at once must not take the same number
        row = {
            "seq": store.next_value("audit_log", "seq") + 1,
            "at": moment(at),
            "who": who,
            "kind": kind,
            "object_id": object_id,
            "action": action,
            "before": _json(before),
            "after": _json(after),
        }
        append_rows(store, "audit_log", [row])
    return AuditEntry.from_row(row)


def entries(store: Store, limit: int = 100, kind: str | None = None) -> list[AuditEntry]:
    """The latest ``limit`` entries (of one ``kind`` when given), newest first."""
    if kind is not None and kind not in KINDS:
        raise InputError(f"unknown audit kind {kind!r}: expected one of {', '.join(KINDS)}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(f"limit {limit!r}: expected a whole number of at least 1")
    table = store.table("audit_log")
    expr = table if kind is None else table.filter(table.kind == kind)
    expr = expr.order_by(expr.seq.desc()).limit(limit)
    return [AuditEntry.from_row(r) for r in read_rows(store, expr)]


class AuditedSettings(Settings):
    """The database's settings, where every ``set`` is checked against the viewer's role
    and recorded in the audit log with the value before and after."""

    def __init__(self, store: Store, viewer: Viewer | None = None) -> None:
        super().__init__(store)
        self.viewer = viewer

    def set(self, key: str, value: Any, *, by: str | None = None) -> Any:
        """Store ``value`` for ``key`` (None removes it) as ``Settings.set`` does, by the
        viewer (or ``by``, else the operating-system user), and audit it."""
        if self.viewer is not None:
            self.viewer.require("edit_settings")
        store = self.store.unscoped
        who = self.viewer.who if self.viewer is not None else local_user(by)
        with store.transaction():
            before = Settings(store).stored().get(key)
            typed = Settings(store).set(key, value)
            if typed != before:
                record(
                    store,
                    "setting",
                    key,
                    "unset" if typed is None else "set",
                    who=who,
                    before=None if before is None else {"value": before},
                    after=None if typed is None else {"value": typed},
                )
        return typed


def local_user(by: str | None) -> str:
    """``by`` when given, else the operating-system user running the command."""
    if isinstance(by, str) and by.strip():
        return by.strip()
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):
        return "unknown"
