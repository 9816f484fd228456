"""Forecast benchmark on the Maven CRM data set: monthly forecasts at each month's start.

Imports ../shared/data/maven_crm_sales_opportunities into a fresh DuckDB file (its deal
histories rebuilt from engage and close dates by the Maven mapping), then backtests every
method over every month that has two completed months with bookings before it, and prints
each method's WAPE at the start of the month (day 1), at the start of its week 4 and over
every weekly check point, on the months every method could forecast.

    .venv/bin/python bench/forecast_maven.py
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from datetime import time as clock
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
MAVEN = HERE.parent.parent / "shared" / "data" / "maven_crm_sales_opportunities"


def main() -> None:
    if not MAVEN.exists():
        sys.exit(f"the Maven data set is not at {MAVEN} (it sits beside the repository)")
    from quarterdeck import Workspace
    from quarterdeck.forecast import forecaster

    OUT.mkdir(exist_ok=True)
    db = OUT / "maven.duckdb"
    for stale in OUT.glob("maven.duckdb*"):
        stale.unlink()
    with Workspace(db) as ws:
        ws.import_files([MAVEN])
    with Workspace(db, read_only=True) as ws:
        started = time.perf_counter()
        result = ws.backtest("month", 24)
        seconds = time.perf_counter() - started
    print(
        f"months: {', '.join(p.label for p in result.periods)}; {result.check_points} check "
        f"points in {seconds:.0f} s"
    )
    for note in result.notes:
        print(f"note: {note}")
    for point in ("day 1", "week 4", None):
        rows = [f for f in result.forecasts if point is None or point in f.points]
        by_method: dict[str, dict[tuple[str, object], tuple[float, float]]] = {}
        for f in rows:
            by_method.setdefault(f.method, {})[(f.period.label, f.at)] = (f.actual, f.forecast)
        common = set.intersection(*(set(v) for v in by_method.values())) if by_method else set()
        naive = set(by_method.get("seasonal_naive", {}))
        print(f"\nWAPE at {point or 'every weekly check point'} on {len(common)} forecasts:")
        for method, values in by_method.items():
            mine = np.array([v for v in values.values()])
            print(
                f"  {method:<18} {_wape(values, common):6.1%} "
                f"(on all {len(mine)} it made: "
                f"{np.abs(mine[:, 0] - mine[:, 1]).sum() / mine[:, 0].sum():.1%}; "
                f"on seasonal naive's {len(naive & set(values))}: "
                f"{_wape(values, naive & set(values)):.1%})"
            )
    deals = result.deals
    if deals is not None:
        print(
            f"\ndeal probabilities: AUC {deals.auc:.3f}, Brier {deals.brier:.4f}, skill against "
            f"{result.deals_reference} {deals.brier_skill:.3f}, ECE {deals.ece:.4f}"
        )

    print("\nconversion at each month's start, and the periods it learned from:")
    with Workspace(db, read_only=True) as ws:
        engine = forecaster(ws.store, "month")
        for period in result.periods:
            start = datetime.combine(period.start, clock.min)
            made = engine.forecast(period, start, methods=("conversion",)).methods["conversion"]
            print(
                f"  {period.label}: {made.forecast or 0:,.0f} (actual {engine.actual(period):,.0f}): "
                f"{made.note}"
            )


def _wape(
    values: dict[tuple[str, object], tuple[float, float]], keys: set[tuple[str, object]]
) -> float:
    actual = np.array([values[k][0] for k in keys])
    forecast = np.array([values[k][1] for k in keys])
    return float(np.abs(actual - forecast).sum() / actual.sum()) if len(keys) else float("nan")


if __name__ == "__main__":
    main()
