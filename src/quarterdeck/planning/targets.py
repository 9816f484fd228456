"""Targets: the revenue goal of a period for the company, a team, a rep, a segment or a
motion, set by hand (from the web app's settings page or a script) as imports set them.

A target is keyed by its period's first day, its scope and its scope id; setting one
replaces the target with the same key, and setting None removes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ibis

from quarterdeck.errors import InputError
from quarterdeck.meeting.forecast_calls import amount, period_of
from quarterdeck.meeting.tables import insert_rows, read_rows
from quarterdeck.periods import Period
from quarterdeck.store import Store

__all__ = ["TARGET_SCOPE_NAMES", "TargetLine", "set_target", "targets"]

TARGET_SCOPE_NAMES = ("company", "team", "rep", "segment", "motion")
"""What a target can be for; ``scope_id`` names the team, rep (user id), segment or motion."""


@dataclass(frozen=True)
class TargetLine:
    """One target: the period, its scope and scope id ('' for the company), the amount."""

    period: Period
    scope: str
    scope_id: str
    amount: Decimal

    @property
    def key(self) -> str:
        """How the audit log names the target: '2024-Q3 rep u1', '2024-Q3 company'."""
        return " ".join(p for p in (self.period.label, self.scope, self.scope_id) if p)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.label,
            "period_start": self.period.start.isoformat(),
            "period_end": self.period.end.isoformat(),
            "scope": self.scope,
            "scope_id": self.scope_id,
            "amount": str(self.amount),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TargetLine:
        return cls(
            period=period_of(row["period_start"], row["period_end"]),
            scope=row["scope"],
            scope_id=row["scope_id"] or "",
            amount=Decimal(row["amount"]) if row["amount"] is not None else Decimal("0.00"),
        )


def _scope(scope: Any, scope_id: Any) -> tuple[str, str]:
    name = scope.strip().lower() if isinstance(scope, str) else scope
    if name not in TARGET_SCOPE_NAMES:
        raise InputError(
            f"unknown target scope {scope!r}: expected one of {', '.join(TARGET_SCOPE_NAMES)}"
        )
    key = scope_id.strip() if isinstance(scope_id, str) else ""
    if name == "company":
        if key:
            raise InputError("a company target has no scope id")
        return name, ""
    if not key:
        raise InputError(f"a {name} target needs the {name} it is for (scope_id)")
    return str(name), key


def _find(store: Store, period: Period, scope: str, scope_id: str) -> TargetLine | None:
    table = store.table("targets")
    rows = read_rows(
        store,
        table.filter(
            table.period_start == ibis.literal(period.start, "date"),
            table.scope == scope,
            table.scope_id == scope_id,
        ),
    )
    return TargetLine.from_row(rows[0]) if rows else None


def set_target(
    store: Store,
    period: Period,
    value: Decimal | int | str | None,
    *,
    scope: str = "company",
    scope_id: str = "",
) -> tuple[TargetLine | None, TargetLine | None]:
    """Set (or with None remove) the target of ``period`` for a scope; returns the target
    before and after. Runs in the caller's transaction when there is one."""
    name, key = _scope(scope, scope_id)
    new = None if value is None else TargetLine(period, name, key, amount(value, "target"))
    with store.transaction():
        store.lock("targets")
        before = _find(store, period, name, key)
        if before is not None:
            store.delete(
                "targets",
                {"period_start": period.start, "scope": name, "scope_id": key},
            )
        if new is not None:
            row = {
                "period_start": period.start,
                "period_end": period.end,
                "scope": name,
                "scope_id": key,
                "amount": new.amount,
                "import_id": None,
            }
            insert_rows(store, "targets", [row])
    return before, new


def targets(store: Store, period: Period | None = None) -> list[TargetLine]:
    """The targets (those lying inside ``period`` when given), by period, scope and id."""
    table = store.table("targets")
    if period is not None:
        table = table.filter(
            table.period_start >= ibis.literal(period.start, "date"),
            table.period_end <= ibis.literal(period.end, "date"),
        )
    lines = [TargetLine.from_row(r) for r in read_rows(store, table)]
    return sorted(lines, key=lambda t: (t.period.start, t.period.end, t.scope, t.scope_id))
