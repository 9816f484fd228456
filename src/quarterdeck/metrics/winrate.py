"""Win rate: of the deals that closed in a period, the share that was won, by count and value."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis.expr.types as ir

from quarterdeck.metrics.bookings import (
    DEAL_COLUMNS,
    check_dimension,
    in_period,
    ratio,
    rows_of,
    with_dimension,
)
from quarterdeck.periods import Period
from quarterdeck.store import Store

__all__ = ["WinRate", "WinRateLine", "win_rate"]


@dataclass(frozen=True)
class WinRateLine:
    """Win rate of one scope (the company, or one owner, team, segment, motion, account).

    ``by_count`` and ``by_value`` are fractions in [0, 1]; None when nothing closed (or, for
    ``by_value``, when the closed deals add up to zero value).
    """

    key: str | None
    won: int
    lost: int
    won_amount: Decimal
    lost_amount: Decimal
    by_count: Decimal | None
    by_value: Decimal | None

    @property
    def closed(self) -> int:
        return self.won + self.lost


@dataclass(frozen=True)
class WinRate:
    """Result of :func:`win_rate`: the company line, one line per dimension value, and the
    queries behind them (``store.sql(result.total_expr)`` shows the SQL)."""

    period: Period
    by: str | None
    total: WinRateLine
    rows: tuple[WinRateLine, ...]
    total_expr: ir.Table = field(compare=False, repr=False)
    rows_expr: ir.Table | None = field(default=None, compare=False, repr=False)

    @property
    def by_count(self) -> Decimal | None:
        """Company win rate by count."""
        return self.total.by_count

    @property
    def by_value(self) -> Decimal | None:
        """Company win rate by value."""
        return self.total.by_value

    def expressions(self) -> dict[str, ir.Table]:
        """Every query this result was computed from, by name (for ``--explain``)."""
        exprs = {"total": self.total_expr}
        if self.rows_expr is not None:
            exprs["rows"] = self.rows_expr
        return exprs


def win_rate(store: Store, period: Period, by: str | None = None) -> WinRate:
    """Win rate of the deals closed in ``period``, by count and by value, for the company and
    optionally broken down ``by`` owner, team, segment, motion or account.

    Definition: a deal closed in the period when it is closed (``is_closed``, or flagged
    ``is_won``) and its ``close_date`` lies in the period, both ends included; it is won when
    ``is_won``, lost otherwise. Win rate by count = won / (won + lost); win rate by value =
    won amount / (won amount + lost amount), where a deal without an amount counts in the
    count but adds nothing to the value. Open deals never count. When no deal closed the
    rate is None (unknown), not 0 and not an error; likewise by value when the closed deals
    are worth nothing. Dimensions are those of :func:`~quarterdeck.metrics.bookings` (team
    is the current team of the deal's owner).
    """
    by = check_dimension(by)
    deals = store.table("deals")
    won_flag = deals.is_won.fill_null(False)
    closed = deals.filter(
        deals.is_closed.fill_null(False) | won_flag, in_period(deals.close_date, period)
    ).select(*DEAL_COLUMNS, _won=won_flag)

    total_expr = _aggregate(closed)
    total = _line(None, rows_of(store, total_expr)[0])

    rows_expr: ir.Table | None = None
    rows: tuple[WinRateLine, ...] = ()
    if by is not None:
        keyed = with_dimension(store, closed, by)
        grouped = _aggregate(keyed, keyed.key)
        rows_expr = grouped.order_by(grouped.key.isnull(), "key")
        rows = tuple(_line(r["key"], r) for r in rows_of(store, rows_expr))
    return WinRate(period, by, total, rows, total_expr, rows_expr)


def _aggregate(closed: ir.Table, key: ir.Column | None = None) -> ir.Table:
    lost_flag = ~closed._won
    metrics = {
        "won": closed.count(where=closed._won),
        "lost": closed.count(where=lost_flag),
        "won_amount": closed.amount.sum(where=closed._won).fill_null(0),
        "lost_amount": closed.amount.sum(where=lost_flag).fill_null(0),
    }
    if key is None:
        return closed.aggregate(**metrics)
    return closed.group_by(key.name("key")).aggregate(**metrics)


def _line(key: str | None, row: dict[str, Any]) -> WinRateLine:
    won, lost = int(row["won"] or 0), int(row["lost"] or 0)
    won_amount = Decimal(row["won_amount"] if row["won_amount"] is not None else 0)
    lost_amount = Decimal(row["lost_amount"] if row["lost_amount"] is not None else 0)
    return WinRateLine(
        key=key,
        won=won,
        lost=lost,
        won_amount=won_amount,
        lost_amount=lost_amount,
        by_count=ratio(won, won + lost),
        by_value=ratio(won_amount, won_amount + lost_amount),
    )
