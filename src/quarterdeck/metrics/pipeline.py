"""Open pipeline by stage, now or as it stood at a past moment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import ibis
import ibis.expr.types as ir

from quarterdeck.history import deals_as_of
from quarterdeck.metrics.bookings import in_period, rows_of
from quarterdeck.periods import Period, require_moment, require_period
from quarterdeck.store import Store

__all__ = ["PipelineByStage", "StageLine", "pipeline_by_stage"]


@dataclass(frozen=True)
class StageLine:
    """Open deals in one stage: how many and what they are worth.

    ``sort_order`` is the stage's place in the official process; None for a stage the
    ``stages`` table does not know (listed last).
    """

    stage: str | None
    sort_order: int | None
    count: int
    amount: Decimal


@dataclass(frozen=True)
class PipelineByStage:
    """Result of :func:`pipeline_by_stage`: one line per stage in process order, the totals,
    and the query behind them (``store.sql(result.expr)`` shows the SQL)."""

    as_of: datetime | None
    period: Period | None
    stages: tuple[StageLine, ...]
    count: int
    amount: Decimal
    expr: ir.Table = field(compare=False, repr=False)

    def expressions(self) -> dict[str, ir.Table]:
        """Every query this result was computed from, by name (for ``--explain``)."""
        return {"stages": self.expr}


def pipeline_by_stage(
    store: Store, as_of: datetime | None = None, period: Period | None = None
) -> PipelineByStage:
    """Open deals grouped by stage, in the official stage order, with count and amount.

    Definition: a deal is open when it is neither closed (``is_closed``) nor won
    (``is_won``). Per stage: the number of open deals and the sum of their ``amount`` (a
    deal without an amount counts but adds nothing); the totals are the sums over stages.
    Stages are ordered by ``stages.sort_order`` (a stage name used by several pipelines
    takes its lowest position); stages missing from ``stages`` come last, by name. Only
    stages that hold an open deal are listed. ``period`` keeps only deals whose
    ``close_date`` lies in it (both ends included). ``as_of`` rebuilds every deal as it stood
    at that moment from ``deal_events`` (stage, amount, close date and open/closed as they
    were then, so deals that moved backwards or were reopened count where they stood)
    instead of reading the current ``deals`` table.
    """
    if as_of is not None:
        require_moment(as_of)
    if period is not None:
        require_period(period)
    deals = store.table("deals") if as_of is None else deals_as_of(store, as_of)
    open_deals = deals.filter(~(deals.is_closed.fill_null(False) | deals.is_won.fill_null(False)))
    if period is not None:
        open_deals = open_deals.filter(in_period(open_deals.close_date, period))

    grouped = open_deals.group_by("stage").aggregate(
        count=open_deals.count(), amount=open_deals.amount.sum().fill_null(0)
    )
    stages = store.table("stages")
    order = stages.group_by(_stage=stages.stage).aggregate(sort_order=stages.sort_order.min())
    joined = grouped.left_join(order, grouped.stage == order._stage)
    expr = joined.select("stage", "sort_order", "count", "amount").order_by(
        ibis._.sort_order.isnull(), "sort_order", ibis._.stage.isnull(), "stage"
    )

    lines = tuple(
        StageLine(
            stage=r["stage"],
            sort_order=None if r["sort_order"] is None else int(r["sort_order"]),
            count=int(r["count"]),
            amount=Decimal(r["amount"]),
        )
        for r in rows_of(store, expr)
    )
    return PipelineByStage(
        as_of=as_of,
        period=period,
        stages=lines,
        count=sum(line.count for line in lines),
        amount=sum((line.amount for line in lines), Decimal("0.00")),
        expr=expr,
    )
