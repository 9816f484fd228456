"""Saved forecasts: every forecast the company made, kept so that reports can show the latest
and score each against what happened.

``quarterdeck forecast`` (without ``--as-of``) saves one row per method in the ``forecasts``
table: the moment of the data it was made from (``made_at``), when it was computed, the
period, the point forecast and, for the range, P10, P90 and the chance of making the
target. The weekly brief reads the latest forecast of its quarter made from data no later
than its own moment, so building a brief never waits for the models.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import ibis

from quarterdeck.meeting.tables import insert_rows, moment
from quarterdeck.periods import Period
from quarterdeck.store import Store

if TYPE_CHECKING:
    from quarterdeck.forecast.ladder import PeriodForecast

__all__ = ["SavedForecast", "latest_forecast", "save_forecast"]


@dataclass(frozen=True)
class SavedForecast:
    """One saved forecast of the product (the best method of its run)."""

    forecast_id: str
    made_at: datetime
    created_at: datetime | None
    period_start: date
    period_end: date
    method: str
    forecast: float | None
    p10: float | None
    p90: float | None
    target: float | None
    p_target: float | None
    closed_won: float | None
    note: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "forecast_id": self.forecast_id,
            "made_at": self.made_at.isoformat(),
            "created_at": None if self.created_at is None else self.created_at.isoformat(),
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "method": self.method,
            "forecast": self.forecast,
            "p10": self.p10,
            "p90": self.p90,
            "target": self.target,
            "p_target": self.p_target,
            "closed_won": self.closed_won,
            "note": self.note,
        }


def save_forecast(store: Store, result: PeriodForecast, now: datetime | None = None) -> str:
    """Save every method's forecast of ``result`` (one transaction); returns the run's id."""
    forecast_id = f"F-{uuid.uuid4().hex[:12]}"
    created = moment(now)
    best = result.best.method
    rows = [
        {
            "forecast_id": forecast_id,
            "made_at": result.at,
            "created_at": created,
            "period_start": result.period.start,
            "period_end": result.period.end,
            "method": m.method,
            "forecast": m.forecast,
            "p10": m.p10,
            "p90": m.p90,
            "target": result.target,
            "p_target": m.p_target,
            "closed_won": result.closed_won,
            "chosen": m.method == best,
            "note": m.note,
        }
        for m in result.methods.values()
    ]
    with store.transaction():
        insert_rows(store, "forecasts", rows)
    return forecast_id


def latest_forecast(store: Store, period: Period, until: datetime) -> SavedForecast | None:
    """The product's forecast of ``period`` (its best method) made latest from data at or
    before ``until``; None when none was saved."""
    table = store.table("forecasts")
    rows = table.filter(
        table.period_start == ibis.literal(period.start),
        table.period_end == ibis.literal(period.end),
        table.made_at <= ibis.literal(until, "timestamp"),
        table.chosen,
    )
    found = store.to_arrow(rows.order_by([ibis.desc("made_at"), ibis.desc("created_at")]).limit(1))
    if not found.num_rows:
        return None
    row = found.to_pylist()[0]
    del row["chosen"]
    return SavedForecast(**row)
