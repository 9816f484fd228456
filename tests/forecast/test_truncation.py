"""No leakage: a forecast made at moment t is the same whatever happened after t.

A simulated company (with its leader's weekly calls) is forecast at the start of week 4 of
a quarter three ways: from the whole history; from the history cut at t (every event,
activity and call after t gone); and from a copy whose every event after t is corrupted
(amounts, stages and close dates rewritten, later activities moved later and more added, a wild call
recorded) and whose deals table, the latest state, is rewritten too (amount, stage, won
and closed flags, close date, loss reason, probability). Every method must give the same
forecast, range and chance, and the deal model the same probability for every deal.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pytest

from quarterdeck import Workspace
from quarterdeck.forecast import METHODS, PeriodForecast, forecaster
from quarterdeck.periods import Period
from quarterdeck.simulate import SimulationSpec, simulate
from quarterdeck.simulate.calls import record_leader_calls

PERIOD = Period.parse("2025-Q4")
AT = datetime(2025, 10, 22)  # the start of week 4
TARGET = 2_000_000.0


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("truncation")
    spec = SimulationSpec(deals=1500, years=2.5, end=date(2026, 6, 30), seed=5)
    simulate(spec, folder / "export")
    db = folder / "company.duckdb"
    with Workspace(db) as ws:
        ws.import_files([folder / "export"])
        record_leader_calls(ws, folder / "export")
    return db


def forecast(db: Path, *, cut: bool = False) -> PeriodForecast:
    with Workspace(db, read_only=True) as ws:
        engine = forecaster(ws.store, "quarter", until=AT if cut else None, draws=500)
        return engine.forecast(PERIOD, AT, target=TARGET)


def corrupt(db: Path, copy: Path) -> None:
    shutil.copy(db, copy)
    later = f"TIMESTAMP '{AT:%Y-%m-%d %H:%M:%S}'"
    with duckdb.connect(str(copy)) as con:
        con.execute(
            f"""
            UPDATE deal_events SET new_value = CASE field
                WHEN 'amount' THEN '987654321.00'
                WHEN 'stage' THEN 'Closed Won'
                WHEN 'close_date' THEN '{PERIOD.start}'
                WHEN 'probability' THEN '0.99'
                ELSE new_value END
            WHERE "at" > {later}
            """
        )
        con.execute(f"""UPDATE activities SET "at" = "at" + INTERVAL 30 DAY WHERE "at" > {later}""")
        con.execute(
            f"""INSERT INTO activities (activity_id, deal_id, "at", kind)
                SELECT 'fake-' || deal_id, deal_id, {later} + INTERVAL 1 HOUR, 'meeting'
                FROM deals"""
        )
        con.execute(
            """UPDATE deals SET amount = 1.00, stage = 'Closed Lost', is_won = false,
               is_closed = true, close_date = DATE '2000-01-01', loss_reason = 'leak',
               probability = 0.0"""
        )
        con.execute(
            f"""INSERT INTO forecast_calls VALUES ('C-999999', 'someone',
                {later} + INTERVAL 1 HOUR, DATE '{PERIOD.start}', DATE '{PERIOD.end}',
                123456789.00, 223456789.00, 'after the moment')"""
        )


def same(a: PeriodForecast, b: PeriodForecast) -> list[str]:
    """What differs between two forecasts (empty: nothing)."""
    differences = []
    if a.closed_won != b.closed_won:
        differences.append(f"closed won {a.closed_won} != {b.closed_won}")
    for name in METHODS:
        x, y = a.methods.get(name), b.methods.get(name)
        if x is None or y is None:
            if x is not y:
                differences.append(f"{name}: present in one only")
            continue
        for part in ("forecast", "p10", "p90", "p_target", "open_part"):
            if getattr(x, part) != getattr(y, part):
                differences.append(f"{name}.{part}: {getattr(x, part)} != {getattr(y, part)}")
    if a.deals is None or b.deals is None:
        differences.append("no deal probabilities")
    elif not np.array_equal(a.deals.probability, b.deals.probability):
        differences.append("deal probabilities differ")
    return differences


def test_every_method_forecasts_from_what_was_known(company: Path, tmp_path: Path) -> None:
    whole = forecast(company)
    # Every method of the ladder answered (the history holds enough periods and calls).
    missing = [m.method for m in whole.methods.values() if m.forecast is None]
    assert missing == []
    assert same(whole, forecast(company, cut=True)) == []
    corrupt(company, tmp_path / "corrupt.duckdb")
    assert same(whole, forecast(tmp_path / "corrupt.duckdb")) == []


def test_the_corruption_would_show_in_a_later_forecast(company: Path, tmp_path: Path) -> None:
    """The same corruption does change a forecast made after it: the test can fail."""
    corrupt(company, tmp_path / "corrupt.duckdb")
    later = datetime(2025, 11, 20)
    with Workspace(company, read_only=True) as ws:
        clean = forecaster(ws.store, "quarter", draws=200).forecast(PERIOD, later)
    with Workspace(tmp_path / "corrupt.duckdb", read_only=True) as ws:
        bad = forecaster(ws.store, "quarter", draws=200).forecast(PERIOD, later)
    assert clean.closed_won != bad.closed_won
