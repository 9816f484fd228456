"""Forecasts: deal probabilities, ranges and their backtests.

:func:`forecaster` reads a store's history once (:mod:`forecast.timeline`) with the
recorded forecast calls, and gives a :class:`~quarterdeck.forecast.ladder.Forecaster`
that makes every method's forecast of a period at any moment
(:mod:`forecast.ladder`); :func:`~quarterdeck.forecast.backtest.backtest` walks it
forward over past periods and scores every method (:mod:`forecast.backtest`). The
forecast learns from the imported history alone.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quarterdeck.forecast.backtest import NAMED_POINTS, Backtest, check_points
    from quarterdeck.forecast.ladder import (
        METHODS,
        Call,
        Forecaster,
        MethodForecast,
        PeriodForecast,
    )
    from quarterdeck.forecast.timeline import DealTimeline, load_timeline
    from quarterdeck.store import Store

_HOMES = {
    "NAMED_POINTS": "backtest",
    "Backtest": "backtest",
    "check_points": "backtest",
    "METHODS": "ladder",
    "Call": "ladder",
    "Forecaster": "ladder",
    "MethodForecast": "ladder",
    "PeriodForecast": "ladder",
    "DealTimeline": "timeline",
    "load_timeline": "timeline",
}


def __getattr__(name: str) -> Any:
    """The package's names, imported on first use: reading a saved forecast (as the brief
    does) does not load the modelling libraries."""
    if name in _HOMES:
        return getattr(importlib.import_module(f"quarterdeck.forecast.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "METHODS",
    "NAMED_POINTS",
    "Backtest",
    "Call",
    "DealTimeline",
    "Forecaster",
    "MethodForecast",
    "PeriodForecast",
    "check_points",
    "forecaster",
    "load_timeline",
    "recorded_calls",
]


def recorded_calls(store: Store, until: datetime | None = None) -> list[Call]:
    """Every forecast call recorded (up to ``until``), oldest first."""
    import ibis

    from quarterdeck.forecast.ladder import Call

    calls = store.table("forecast_calls")
    if until is not None:
        calls = calls.filter(calls.called_at <= ibis.literal(until, "timestamp"))
    rows = store.to_arrow(
        calls.select("called_at", "period_start", "commit", "best_case").order_by("called_at")
    ).to_pylist()
    return [
        Call(r["called_at"], r["period_start"], float(r["commit"]), float(r["best_case"]))
        for r in rows
        if r["called_at"] is not None and r["period_start"] is not None
    ]


def forecaster(
    store: Store,
    kind: str = "quarter",
    *,
    until: datetime | None = None,
    seed: int = 0,
    draws: int = 2000,
) -> Forecaster:
    """A :class:`Forecaster` over the store's history (cut at ``until``, when given) and
    its recorded calls."""
    from quarterdeck.forecast.ladder import Forecaster
    from quarterdeck.forecast.timeline import load_timeline

    users = store.to_arrow(store.table("users").select("user_id", "team")).to_pylist()
    return Forecaster(
        load_timeline(store, until),
        kind,
        calls=recorded_calls(store, until),
        teams={u["user_id"]: u["team"] for u in users if u["team"]},
        seed=seed,
        draws=draws,
    )
