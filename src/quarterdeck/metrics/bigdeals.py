"""Big deals: the large deals just won, about to close, and overdue.

"Big" is read off the company's own wins (see :mod:`quarterdeck.metrics.sizes`): by default a
deal is big when its amount reaches the top decile of the deals won in the last four
quarters, or a fixed ``big_deals.amount``. The weekly brief lists the big deals won in the
last ``big_deals.won_days`` days (wins to celebrate, revenue landed) and the big open deals
due within ``big_deals.closing_days`` days (what is about to land, and the capacity it needs),
plus the big open deals whose close date has already passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from quarterdeck.history import deals_at
from quarterdeck.metrics.bookings import rows_of
from quarterdeck.metrics.sizes import size_bands
from quarterdeck.periods import require_moment
from quarterdeck.settings import SETTINGS
from quarterdeck.store import Store

__all__ = ["BigDeal", "BigDealList", "BigDeals", "big_deals"]

_LISTS = ("won", "closing", "overdue")


@dataclass(frozen=True)
class BigDeal:
    """One big deal as it stood at the report's moment.

    ``age_days`` is the whole days from its creation to the report's moment (None when the
    creation time is unknown).
    """

    deal_id: str
    name: str | None
    owner_id: str | None
    account_id: str | None
    motion: str | None
    stage: str | None
    amount: Decimal
    close_date: date | None
    created_at: datetime | None
    age_days: int | None


@dataclass(frozen=True)
class BigDealList:
    """A list of big deals, largest first, with how many and what they are worth."""

    deals: tuple[BigDeal, ...]

    @property
    def count(self) -> int:
        return len(self.deals)

    @property
    def value(self) -> Decimal:
        return sum((d.amount for d in self.deals), Decimal("0.00"))


@dataclass(frozen=True)
class BigDeals:
    """Result of :func:`big_deals`: the threshold, the three lists and the query behind them.

    ``threshold`` is None when it is unknown (no deal won in the look-back and no fixed
    amount); then every list is empty and ``notes`` says why. ``won_from`` .. ``won_to``
    and ``closing_from`` .. ``closing_to`` are the close-date windows (both ends included).
    """

    as_of: datetime
    threshold: Decimal | None
    source: str
    won_from: date
    won_to: date
    closing_from: date
    closing_to: date
    won: BigDealList
    closing: BigDealList
    overdue: BigDealList
    notes: tuple[str, ...] = ()
    expr: ir.Table | None = field(default=None, compare=False, repr=False)

    def expressions(self) -> dict[str, ir.Table]:
        """Every query this result was computed from, by name (for ``--explain``)."""
        return {} if self.expr is None else {"deals": self.expr}


def _setting(settings: Mapping[str, Any], key: str) -> Any:
    return settings[key] if key in settings else SETTINGS[key].default


def big_deals(store: Store, as_of: datetime, settings: Mapping[str, Any]) -> BigDeals:
    """Big deals won lately, big open deals closing soon, and big open deals overdue.

    Definition: a deal is big when its amount at ``as_of`` is at least the big-deal
    threshold of :func:`~quarterdeck.metrics.sizes.size_bands` (``big_deals.amount`` when
    set, else the ``big_deals.quantile`` quantile of the amounts won in the last four
    quarters). Deals are taken as they stood at ``as_of``. With d = as_of's date:

    * won: big deals won at as_of with a close date in (d - ``big_deals.won_days``, d]
      (with 7 days and d = Aug 14: Aug 8 to Aug 14);
    * closing: big open deals with a close date in [d, d + ``big_deals.closing_days``];
    * overdue: big open deals with a close date before d.

    Age = whole days from the deal's creation to as_of. Each list is largest first (then by
    id), with its count and total value. When the threshold is unknown (no wins to read it
    from) every list is empty and a note says so.
    """
    require_moment(as_of)
    won_days = int(_setting(settings, "big_deals.won_days"))
    closing_days = int(_setting(settings, "big_deals.closing_days"))
    wanted = {key: _setting(settings, key) for key in SETTINGS}
    bands = size_bands(store, as_of, wanted)
    today = as_of.date()
    won_from, won_to = today - timedelta(days=won_days - 1), today
    closing_from, closing_to = today, today + timedelta(days=closing_days)
    empty = BigDealList(())
    if bands.big_from is None:
        return BigDeals(
            as_of=as_of,
            threshold=None,
            source=bands.source,
            won_from=won_from,
            won_to=won_to,
            closing_from=closing_from,
            closing_to=closing_to,
            won=empty,
            closing=empty,
            overdue=empty,
            notes=("big-deal threshold unknown: no deal was won in the last four quarters",),
        )

    deals = deals_at(store, as_of)
    big = deals.filter(
        deals.amount.notnull(),
        deals.amount >= ibis.literal(bands.big_from, dt.Decimal(18, 2)),
        deals.close_date.notnull(),
    )
    close = big.close_date
    is_open = ~big.is_closed & ~big.is_won
    kind = (
        ibis.cases(
            (big.is_won & close.between(_day(won_from), _day(won_to)), "won"),
            (is_open & close.between(_day(closing_from), _day(closing_to)), "closing"),
            (is_open & (close < _day(today)), "overdue"),
        )
    ).name("list")
    listed = big.select(
        "deal_id", "name", "owner_id", "account_id", "motion", "stage", "amount",
        "close_date", "created_at", list=kind,
    )  # fmt: skip
    expr = listed.filter(listed.list.notnull()).order_by(ibis.desc("amount"), "deal_id")
    rows = rows_of(store, expr)
    lists: dict[str, list[BigDeal]] = {name: [] for name in _LISTS}
    for row in rows:
        lists[row["list"]].append(_big_deal(row, as_of))
    return BigDeals(
        as_of=as_of,
        threshold=bands.big_from,
        source=bands.source,
        won_from=won_from,
        won_to=won_to,
        closing_from=closing_from,
        closing_to=closing_to,
        won=BigDealList(tuple(lists["won"])),
        closing=BigDealList(tuple(lists["closing"])),
        overdue=BigDealList(tuple(lists["overdue"])),
        expr=expr,
    )


def _day(day: date) -> ir.DateScalar:
    return ibis.literal(day, "date")


def _big_deal(row: dict[str, Any], as_of: datetime) -> BigDeal:
    created = row["created_at"]
    return BigDeal(
        deal_id=row["deal_id"],
        name=row["name"],
        owner_id=row["owner_id"],
        account_id=row["account_id"],
        motion=row["motion"],
        stage=row["stage"],
        amount=row["amount"],
        close_date=row["close_date"],
        created_at=created,
        age_days=None if created is None else (as_of - created).days,
    )
