"""Deal sizes: what counts as a big deal, and the small / mid / big bands of the mix.

Both are read off the company's own wins, so "big" means big for this company: by default
a deal is big when it is as large as the top decile of the deals won in the four quarters
before the report's moment, and mid-sized when it is as large as their upper half. Fixed amounts
in the settings (``big_deals.amount``, ``mix.size_bounds``) replace the percentiles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import ibis

from quarterdeck.history import deals_at
from quarterdeck.periods import Period
from quarterdeck.store import Store

__all__ = ["SizeBands", "size_bands", "won_amount_quantile"]

LOOKBACK_QUARTERS = 4


def _lookback(as_of: datetime) -> tuple[date, date]:
    """The four whole quarters before the quarter holding ``as_of``, plus that quarter so far."""
    current = Period.containing(as_of.date(), "quarter")
    first = current
    for _ in range(LOOKBACK_QUARTERS):
        first = first.previous()
    return first.start, as_of.date()


def won_amount_quantile(store: Store, as_of: datetime, q: float) -> Decimal | None:
    """The smallest amount among the top ``1 - q`` share of deals won from the start of the
    fourth quarter before ``as_of`` up to ``as_of`` (None when no deal was won then).

    With ``q = 0.9`` this is where the top decile of wins starts: of ten wins of 100, 200,
    ..., 1,000 it is 1,000; with ``q = 0.5`` it is where the upper half starts (600). It is
    always an amount some deal really had, and is computed in the engine: the smallest won
    amount whose share of wins at or below it exceeds ``q``.
    """
    start, end = _lookback(as_of)
    deals = deals_at(store, as_of)  # as known then: a later, backdated win does not count
    won = deals.filter(
        deals.is_won.fill_null(False),
        deals.amount.notnull(),
        deals.close_date.between(ibis.literal(start, "date"), ibis.literal(end, "date")),
    )
    ranked = won.select(
        amount=won.amount,
        share=ibis.cume_dist().over(ibis.window(order_by=won.amount)),
    )
    value = store.scalar(ranked.filter(ranked.share > q).amount.min())
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class SizeBands:
    """Where mid-sized and big deals start. A deal is small below ``mid_from``, big from
    ``big_from``, mid-sized in between. ``source`` says how they were set (settings or the
    percentiles of recent wins); None bounds mean there were no wins to read them from."""

    mid_from: Decimal | None
    big_from: Decimal | None
    source: str

    def band(self, amount: Decimal | None) -> str | None:
        """small, mid or big for ``amount`` (None when the bands or the amount are unknown)."""
        if amount is None or self.mid_from is None or self.big_from is None:
            return None
        if amount >= self.big_from:
            return "big"
        return "mid" if amount >= self.mid_from else "small"


def size_bands(store: Store, as_of: datetime, settings: Mapping[str, Any]) -> SizeBands:
    """The size bands in force at ``as_of`` under ``settings`` (a dict of setting values).

    ``big_from`` is ``big_deals.amount`` when set, else the ``big_deals.quantile`` quantile
    of recent wins; ``mix.size_bounds`` [mid_from, big_from] overrides both bounds;
    otherwise ``mid_from`` is where the upper half of recent wins starts.
    """
    bounds = settings.get("mix.size_bounds")
    if bounds:
        mid, big = (Decimal(str(v)).quantize(Decimal("0.01")) for v in bounds)
        return SizeBands(mid, big, "settings: mix.size_bounds")
    fixed = settings.get("big_deals.amount")
    big_from: Decimal | None
    if fixed is not None:
        big_from = Decimal(str(fixed)).quantize(Decimal("0.01"))
        source = "settings: big_deals.amount; mid from the upper half of recent wins"
    else:
        big_from = won_amount_quantile(store, as_of, float(settings["big_deals.quantile"]))
        source = (
            f"won deals since {_lookback(as_of)[0]}: big from the "
            f"top {(1 - float(settings['big_deals.quantile'])) * 100:g}%, mid from the upper half"
        )
    mid_from = won_amount_quantile(store, as_of, 0.5)
    if mid_from is not None and big_from is not None and mid_from > big_from:
        mid_from = big_from
    return SizeBands(mid_from, big_from, source)
