"""Forecast benchmark on simulated companies: walk-forward backtests over several seeds.

For each seed, simulates a company (cached in bench/out/), imports it through the real
Salesforce path, records the simulated sales leader's weekly calls, and backtests every
forecast method over the last ``--periods`` quarters at every weekly check point. Prints,
per seed and pooled over seeds, at the start of week 4: the WAPE of the product's P50 (the
range) against the stage-weighted method's, the 80% interval's coverage, and the deal
probabilities' expected calibration error and Brier skill against the CRM's stage
probabilities; and the time of each backtest.

    .venv/bin/python bench/forecast_sim.py [--seeds 1 2 3 4 5] [--deals N] [--years Y]
        [--periods P] [--named-only]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def company(deals: int, years: float, seed: int) -> Path:
    """The database of a simulated company with its leader's calls (built once)."""
    from quarterdeck import Workspace
    from quarterdeck.simulate import SimulationSpec, simulate
    from quarterdeck.simulate.calls import record_leader_calls

    export = OUT / f"forecast-sim-{deals}-{years}-{seed}"
    db = OUT / f"forecast-sim-{deals}-{years}-{seed}.duckdb"
    if db.exists():
        return db
    spec = SimulationSpec(deals=deals, years=years, seed=seed, end=date(2026, 11, 27))
    simulate(spec, export)
    with Workspace(db) as ws:
        ws.import_files([export])
        record_leader_calls(ws, export)
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--years", type=float, default=4.0)
    parser.add_argument("--periods", type=int, default=8)
    parser.add_argument("--named-only", action="store_true")
    parser.add_argument("--json", type=Path, help="Also write every backtest's JSON here.")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)

    from quarterdeck import Workspace

    pooled: dict[str, list[float]] = {"actual": [], "p50": [], "stage": [], "p10": [], "p90": []}
    runs = []
    for seed in args.seeds:
        db = company(args.deals, args.years, seed)
        with Workspace(db, read_only=True) as ws:
            started = time.perf_counter()
            result = ws.backtest("quarter", args.periods, named_only=args.named_only)
            seconds = time.perf_counter() - started
        week4 = {(f.period, f.method): f for f in result.forecasts if "week 4" in f.points}
        periods = sorted({p for p, _ in week4}, key=lambda p: p.start)
        rng = [week4[(p, "range")] for p in periods if (p, "range") in week4]
        stage = [week4[(p, "stage_weighted")] for p in periods if (p, "stage_weighted") in week4]
        actual = np.array([f.actual for f in rng])
        p50 = np.array([f.forecast for f in rng])
        low = np.array([f.p10 for f in rng])
        high = np.array([f.p90 for f in rng])
        stage_f = np.array([f.forecast for f in stage])
        wape = np.abs(actual - p50).sum() / actual.sum()
        stage_wape = np.abs(np.array([f.actual for f in stage]) - stage_f).sum() / actual.sum()
        inside = ((actual >= low) & (actual <= high)).mean()
        deals = result.deals
        print(
            f"seed {seed}: {len(result.periods)} quarters x {result.check_points // max(len(result.periods), 1)} "
            f"check points in {seconds:.0f} s; week 4: P50 WAPE {wape:.3f} vs stage-weighted "
            f"{stage_wape:.3f} (ratio {wape / stage_wape:.2f}), 80% range holds {inside:.0%}; "
            f"deals ECE {deals.ece:.4f}, Brier skill {deals.brier_skill:.3f} (AUC {deals.auc:.3f})"
        )
        for m in result.methods:
            w4 = m.by_point.get("week 4")
            if w4 is not None:
                print(
                    f"    {m.method:<18} week-4 WAPE {w4.wape:.3f}  all points WAPE {m.whole.wape:.3f}"
                )
        pooled["actual"] += actual.tolist()
        pooled["p50"] += p50.tolist()
        pooled["p10"] += low.tolist()
        pooled["p90"] += high.tolist()
        pooled["stage"] += stage_f.tolist()
        runs.append({"seed": seed, "seconds": seconds, "backtest": result.as_dict()})
    a, p = np.array(pooled["actual"]), np.array(pooled["p50"])
    s = np.array(pooled["stage"])
    inside = ((a >= np.array(pooled["p10"])) & (a <= np.array(pooled["p90"]))).mean()
    print(
        f"pooled over {len(args.seeds)} seeds, {len(a)} quarters at week 4: P50 WAPE "
        f"{np.abs(a - p).sum() / a.sum():.3f}, stage-weighted {np.abs(a - s).sum() / a.sum():.3f} "
        f"(ratio {np.abs(a - p).sum() / np.abs(a - s).sum():.2f}); 80% range holds {inside:.0%}"
    )
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
