"""Forecast calls: the sales leader's own call for a period, recorded each week.

A call has two numbers, both cumulative for the period (they include what is already
closed won): the *commit*, what the caller is sure to book, and the *best case*, what
could be booked if the likely deals close too. So 0 <= commit <= best case. Calls are
kept, never changed: scoring the leader's calls against what happened needs every one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from quarterdeck.errors import InputError
from quarterdeck.meeting.tables import insert_rows, moment, read_rows, writing
from quarterdeck.periods import Period
from quarterdeck.store import Store

__all__ = [
    "ForecastCall",
    "ForecastCalls",
    "NewCall",
    "amount",
    "calls",
    "period_of",
    "record_call",
]

_CENT = Decimal("0.01")
_LIMIT = Decimal("1e16")  # decimal(18, 2) holds up to 16 digits before the point
_CALL_ID = re.compile(r"^C-(\d+)$")


@dataclass(frozen=True)
class ForecastCall:
    """One call: who made it and when, for which period, commit and best case (both
    cumulative: they include closed won), and what the caller said about it."""

    call_id: str
    by: str | None
    called_at: datetime
    period: Period
    commit: Decimal
    best_case: Decimal
    note: str | None

    @property
    def number(self) -> int:
        match = _CALL_ID.match(self.call_id)
        return int(match.group(1)) if match else 0

    def sentence(self) -> str:
        """'2024-07-01 14:00 ana: commit 1,200,000.00, best case 1,500,000.00 for 2024-Q3.'"""
        said = f' "{self.note}"' if self.note else ""
        return (
            f"{self.called_at:%Y-%m-%d %H:%M} {self.by or 'someone'}: commit {self.commit:,.2f}, "
            f"best case {self.best_case:,.2f} for {self.period.label}.{said}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "by": self.by,
            "called_at": self.called_at.isoformat(),
            "period": self.period.label,
            "period_start": self.period.start.isoformat(),
            "period_end": self.period.end.isoformat(),
            "commit": str(self.commit),
            "best_case": str(self.best_case),
            "note": self.note,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ForecastCall:
        return cls(
            call_id=row["call_id"],
            by=row["user_id"],
            called_at=row["called_at"],
            period=period_of(row["period_start"], row["period_end"]),
            commit=row["commit"],
            best_case=row["best_case"],
            note=row["note"],
        )


@dataclass(frozen=True)
class ForecastCalls:
    """Calls in the order they were made (for one period, or for all when ``period`` is
    None), and the latest call of each period."""

    period: Period | None
    calls: tuple[ForecastCall, ...]

    @property
    def latest(self) -> tuple[ForecastCall, ...]:
        """The last call made for each period, earliest period first."""
        last: dict[tuple[date, date], ForecastCall] = {}
        for call in self.calls:
            last[(call.period.start, call.period.end)] = call
        return tuple(last[k] for k in sorted(last))

    def latest_for(self, period: Period) -> ForecastCall | None:
        return next(
            (
                c
                for c in reversed(self.calls)
                if (c.period.start, c.period.end) == (period.start, period.end)
            ),
            None,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.label if self.period else None,
            "calls": [c.as_dict() for c in self.calls],
            "latest": [c.as_dict() for c in self.latest],
        }


@dataclass(frozen=True)
class NewCall:
    """What recording a call takes; ``period`` defaults to the quarter of the call."""

    commit: Decimal | int | str
    best_case: Decimal | int | str
    period: Period | str | None = None
    note: str | None = None


def period_of(start: date, end: date) -> Period:
    """The period from ``start`` to ``end`` with its usual label (2024-Q3, 2024-07, 2024,
    2024-W27) when it is one, else labelled by its days."""
    for kind in ("quarter", "month", "year", "week"):
        candidate = Period.containing(start, kind)
        if (candidate.start, candidate.end) == (start, end):
            return candidate
    return Period(start, end, f"{start}..{end}")


def amount(value: Any, what: str) -> Decimal:
    """``value`` as an exact amount in cents, or an InputError naming ``what``."""
    if isinstance(value, bool) or value is None:
        raise InputError(f"{what} {value!r}: expected an amount such as 1250000 or 1250000.50")
    try:
        number = Decimal(value.replace(",", "").strip() if isinstance(value, str) else str(value))
    except (InvalidOperation, ValueError):
        raise InputError(
            f"{what} {value!r}: expected an amount such as 1250000 or 1250000.50"
        ) from None
    if not number.is_finite():
        raise InputError(f"{what} {value!r}: expected a finite amount")
    if number < 0:
        raise InputError(f"{what} must be 0 or more, not {number}")
    if number >= _LIMIT:
        raise InputError(f"{what} {value!r} is too large")
    if number != number.quantize(_CENT):
        raise InputError(f"{what} {value!r}: at most two decimals (cents)")
    return number.quantize(_CENT)


def _period(value: Period | str | None, now: datetime) -> Period:
    if value is None:
        return Period.containing(now.date(), "quarter")
    if isinstance(value, Period):
        return value
    return Period.parse(value)


def record_call(
    store: Store, request: NewCall, *, by: str, now: datetime | None = None
) -> ForecastCall:
    """Record ``by``'s call for a period, made at ``now``. Refused unless
    0 <= commit <= best case."""
    now = moment(now)
    if not isinstance(by, str) or not by.strip():
        raise InputError("say who makes the call (by: a user id or name)")
    commit = amount(request.commit, "commit")
    best_case = amount(request.best_case, "best case")
    if best_case < commit:
        raise InputError(
            f"best case ({best_case:,.2f}) must be at least the commit ({commit:,.2f}): "
            "both are cumulative, so the best case includes the commit"
        )
    period = _period(request.period, now)
    note = request.note.strip() or None if isinstance(request.note, str) else None
    with writing(store):
        rows = read_rows(store, store.table("forecast_calls").select("call_id"))
        numbers = [int(m.group(1)) for r in rows if (m := _CALL_ID.match(r["call_id"]))]
        call = ForecastCall(
            f"C-{max(numbers, default=0) + 1}", by.strip(), now, period, commit, best_case, note
        )
        insert_rows(
            store,
            "forecast_calls",
            [
                {
                    "call_id": call.call_id,
                    "user_id": call.by,
                    "called_at": call.called_at,
                    "period_start": period.start,
                    "period_end": period.end,
                    "commit": commit,
                    "best_case": best_case,
                    "note": note,
                }
            ],
        )
    return call


def calls(
    store: Store, period: Period | str | None = None, until: datetime | None = None
) -> ForecastCalls:
    """The calls for ``period`` (all periods when None) made up to ``until``, in the order
    they were made."""
    wanted = None if period is None else _period(period, moment(None))
    table = store.table("forecast_calls")
    expr = table
    if wanted is not None:
        expr = expr.filter((table.period_start == wanted.start) & (table.period_end == wanted.end))
    if until is not None:
        expr = expr.filter(table.called_at <= until)
    found = sorted(
        (ForecastCall.from_row(r) for r in read_rows(store, expr)),
        key=lambda c: (c.called_at, c.number),
    )
    return ForecastCalls(wanted, tuple(found))
