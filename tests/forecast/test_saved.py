"""The record of forecasts: saved as made, and the latest one found for a brief's moment."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from quarterdeck.forecast.ladder import MethodForecast, PeriodForecast
from quarterdeck.forecast.saved import latest_forecast, save_forecast
from quarterdeck.periods import Period
from quarterdeck.store import Store

Q2 = Period.parse("2026-Q2")


def made(at: datetime, p50: float, period: Period = Q2) -> PeriodForecast:
    methods = {
        "last_period": MethodForecast("last_period", 900.0, "the last period's bookings"),
        "deal_model": MethodForecast("deal_model", p50 + 5, "deals", open_part=300.0),
        "range": MethodForecast("range", p50, "draws", p10=p50 - 100, p90=p50 + 200, p_target=0.25),
    }
    return PeriodForecast(period, at, 400.0, 1500.0, methods, snapshot=None)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "f.duckdb")
    yield s
    s.close()


def test_every_method_is_kept_and_the_range_is_the_product_forecast(store: Store) -> None:
    save_forecast(store, made(datetime(2026, 5, 4), 1000.0), now=datetime(2026, 5, 4, 6))
    rows = store.to_arrow(store.table("forecasts").order_by("method")).to_pylist()
    assert [(r["method"], r["forecast"], r["chosen"]) for r in rows] == [
        ("deal_model", 1005.0, False),
        ("last_period", 900.0, False),
        ("range", 1000.0, True),
    ]
    assert {r["target"] for r in rows} == {1500.0} and {r["closed_won"] for r in rows} == {400.0}


def test_the_latest_forecast_made_from_data_up_to_a_moment(store: Store) -> None:
    save_forecast(store, made(datetime(2026, 5, 4), 1000.0), now=datetime(2026, 5, 4, 6))
    save_forecast(store, made(datetime(2026, 5, 11), 1100.0), now=datetime(2026, 5, 11, 6))
    save_forecast(store, made(datetime(2026, 7, 6), 2000.0, Q2.next()), now=datetime(2026, 7, 6))
    # A brief of 2026-05-10 sees the forecast of 05-04, one of 05-31 the one of 05-11.
    early = latest_forecast(store, Q2, datetime(2026, 5, 10))
    assert early is not None and (early.forecast, early.p10, early.p90) == (1000.0, 900.0, 1200.0)
    late = latest_forecast(store, Q2, datetime(2026, 5, 31))
    assert late is not None and late.forecast == 1100.0 and late.p_target == 0.25
    assert late.method == "range"
    # Before any forecast of the quarter, and for a quarter never forecast: none.
    assert latest_forecast(store, Q2, datetime(2026, 5, 3)) is None
    assert latest_forecast(store, Q2.previous(), datetime(2026, 12, 31)) is None
