"""Bookings: closed-won value in a period, against the target for that period.

This module also holds the breakdown dimensions (owner, team, segment, motion, account)
that every per-period metric shares, so that "by team" means the same thing in bookings,
win rate and whatever comes next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from quarterdeck.errors import InputError
from quarterdeck.periods import Period, require_period
from quarterdeck.store import Store

__all__ = [
    "DEAL_COLUMNS",
    "DIMENSIONS",
    "TARGET_SCOPES",
    "Bookings",
    "BookingsLine",
    "Dimension",
    "bookings",
    "check_dimension",
    "in_period",
    "ratio",
    "rows_of",
    "with_dimension",
]

Dimension = Literal["owner", "team", "segment", "motion", "account"]

DIMENSIONS: tuple[str, ...] = ("owner", "team", "segment", "motion", "account")
"""What a per-period metric can be broken down by."""

TARGET_SCOPES: dict[str, str] = {
    "owner": "rep",
    "team": "team",
    "segment": "segment",
    "motion": "motion",
}
"""``targets.scope`` that holds the goal for each dimension; accounts have no targets."""

DEAL_COLUMNS: tuple[str, ...] = ("deal_id", "owner_id", "account_id", "motion", "amount")
"""The deal columns a per-period metric needs: the amount and what the dimensions read."""

_ZERO = Decimal("0.00")


# -- shared by the per-period metrics -----------------------------------------------------


def check_dimension(by: str | None) -> str | None:
    """``by`` if it names a dimension (or is None), else an ``InputError`` that lists them."""
    if by is not None and by not in DIMENSIONS:
        raise InputError(f"cannot break down by {by!r}: expected one of {', '.join(DIMENSIONS)}")
    return by


def in_period(column: ir.DateValue, period: Period) -> ir.BooleanValue:
    """``column`` lies in ``period``, both ends included."""
    require_period(period)
    return column.between(ibis.literal(period.start, "date"), ibis.literal(period.end, "date"))


def with_dimension(store: Store, deals: ir.Table, by: str | None) -> ir.Table:
    """``deals`` with a string column ``key``: the value of dimension ``by`` for each deal.

    owner is ``deals.owner_id``; team is ``users.team`` of the deal's owner; segment is
    ``accounts.segment`` of the deal's account; motion is ``deals.motion``; account is
    ``deals.account_id``. A deal whose owner or account is unknown keeps a null key rather
    than being dropped, so the parts always add up to the whole. ``by=None`` gives a
    null key for every deal.
    """
    by = check_dimension(by)
    if by is None:
        return deals.mutate(key=ibis.null("string"))
    if by == "owner":
        return deals.mutate(key=deals.owner_id.cast("string"))
    if by == "motion":
        return deals.mutate(key=deals.motion.cast("string"))
    if by == "account":
        return deals.mutate(key=deals.account_id.cast("string"))
    if by == "team":
        users = store.table("users")
        users = users.select(_user_id=users.user_id, _key=users.team)
        joined = deals.left_join(users, deals.owner_id == users._user_id)
    else:  # segment
        accounts = store.table("accounts")
        accounts = accounts.select(_account_id=accounts.account_id, _key=accounts.segment)
        joined = deals.left_join(accounts, deals.account_id == accounts._account_id)
    return joined.select(*[joined[c] for c in deals.columns], key=joined._key.cast("string"))


def ratio(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """``part / whole`` as a Decimal, or None when ``whole`` is zero (never a ZeroDivision).

    Done here rather than in SQL because engines round decimal division differently.
    """
    if whole == 0:
        return None
    return Decimal(part) / Decimal(whole)


def rows_of(store: Store, expr: ir.Table) -> list[dict[str, Any]]:
    """The rows of ``expr`` as dicts (decimals stay Decimal, counts int)."""
    return store.to_arrow(expr).to_pylist()


# -- bookings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingsLine:
    """Bookings of one scope (the company, or one owner, team, segment, motion, account).

    ``key`` is the dimension value (None for the company line, or for deals whose owner or
    account is unknown). ``target``, ``attainment`` and ``gap`` are None when the scope has
    no target covering the period.
    """

    key: str | None
    bookings: Decimal
    won_count: int
    target: Decimal | None
    attainment: Decimal | None
    gap: Decimal | None


@dataclass(frozen=True)
class Bookings:
    """Result of :func:`bookings`: the company line, one line per dimension value, and the
    queries behind them (``store.sql(result.total_expr)`` shows the SQL)."""

    period: Period
    by: str | None
    total: BookingsLine
    rows: tuple[BookingsLine, ...]
    total_expr: ir.Table = field(compare=False, repr=False)
    rows_expr: ir.Table | None = field(default=None, compare=False, repr=False)

    @property
    def bookings(self) -> Decimal:
        """Company closed-won value in the period."""
        return self.total.bookings

    @property
    def won_count(self) -> int:
        return self.total.won_count

    @property
    def target(self) -> Decimal | None:
        return self.total.target

    @property
    def attainment(self) -> Decimal | None:
        return self.total.attainment

    @property
    def gap(self) -> Decimal | None:
        return self.total.gap

    def expressions(self) -> dict[str, ir.Table]:
        """Every query this result was computed from, by name (for ``--explain``)."""
        exprs = {"total": self.total_expr}
        if self.rows_expr is not None:
            exprs["rows"] = self.rows_expr
        return exprs


def bookings(store: Store, period: Period, by: str | None = None) -> Bookings:
    """Closed-won value and count in ``period`` against the target, for the company and
    optionally broken down ``by`` owner, team, segment, motion or account.

    Definition: bookings = sum of ``deals.amount`` over deals with ``is_won`` whose
    ``close_date`` lies in the period (both ends included); won count = how many such deals
    (a won deal without an amount counts but adds nothing to the value).
    Target = sum of ``targets.amount`` for the scope over every target whose whole range
    ``period_start..period_end`` lies inside the period: a quarter asked for with monthly
    targets sums the three months; a target that straddles the period's edges (a yearly
    target for a quarter) is not pro-rated and does not count. Scope: ``company`` for the
    company line; by owner ``rep`` with scope_id = user_id; by team ``team`` with scope_id =
    ``users.team`` of the deal owner; by segment ``segment`` (``accounts.segment``); by
    motion ``motion`` (``deals.motion``); accounts have no targets.
    Attainment = bookings / target, None when there is no target (or it is zero);
    gap = target - bookings (positive while short of the goal), None without a target.
    Lines are listed for every dimension value with a booking or a target, largest
    bookings first, and add up to the company bookings.
    """
    by = check_dimension(by)
    deals = store.table("deals")
    won = deals.filter(deals.is_won.fill_null(False), in_period(deals.close_date, period))
    won = won.select(*DEAL_COLUMNS)
    targets = store.table("targets")
    targets = targets.filter(
        targets.period_start >= ibis.literal(period.start, "date"),
        targets.period_end <= ibis.literal(period.end, "date"),
    )

    company_targets = targets.filter(targets.scope == "company")
    total_expr = won.aggregate(
        bookings=won.amount.sum().fill_null(0), won_count=won.count()
    ).cross_join(company_targets.aggregate(target=company_targets.amount.sum()))
    total = _line(None, rows_of(store, total_expr)[0])

    rows_expr: ir.Table | None = None
    rows: tuple[BookingsLine, ...] = ()
    if by is not None:
        rows_expr = _rows_expr(store, won, targets, by)
        rows = tuple(_line(r["key"], r) for r in rows_of(store, rows_expr))
    return Bookings(period, by, total, rows, total_expr, rows_expr)


def _rows_expr(store: Store, won: ir.Table, targets: ir.Table, by: str) -> ir.Table:
    keyed = with_dimension(store, won, by)
    booked = keyed.group_by("key").aggregate(
        bookings=keyed.amount.sum().fill_null(0), won_count=keyed.count()
    )
    scope = TARGET_SCOPES.get(by)
    if scope is None:
        joined = booked.mutate(target=ibis.null("decimal(38, 2)"))
    else:
        goals = targets.filter(targets.scope == scope)
        goals = goals.group_by(_goal_key=goals.scope_id).aggregate(target=goals.amount.sum())
        # Outer join: a rep with a target and no win yet still gets a line (0 booked).
        outer = booked.outer_join(goals, booked.key == goals._goal_key)
        joined = outer.select(
            key=ibis.coalesce(outer.key, outer._goal_key),
            bookings=outer.bookings.fill_null(0),
            won_count=outer.won_count.fill_null(0),
            target=outer.target,
        )
    return joined.order_by(ibis.desc("bookings"), joined.key.isnull(), "key")


def _line(key: str | None, row: dict[str, Any]) -> BookingsLine:
    booked = Decimal(row["bookings"] if row["bookings"] is not None else _ZERO)
    target = row["target"]
    return BookingsLine(
        key=key,
        bookings=booked,
        won_count=int(row["won_count"] or 0),
        target=target,
        attainment=None if target is None else ratio(booked, target),
        gap=None if target is None else target - booked,
    )
