"""Import benchmark: a simulated 1M-deal company through the real Salesforce import path.

Simulates the company once (cached in bench/out/), then imports it into a fresh DuckDB file
in a child process and prints wall time, rows per second and the child's peak memory.

    .venv/bin/python bench/import_1m.py [--deals N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    export = OUT / f"sim-{args.deals}-{args.seed}"
    if not (export / "Opportunity.csv").exists():
        from quarterdeck.simulate import SimulationSpec, simulate

        started = time.perf_counter()
        spec = SimulationSpec(deals=args.deals, seed=args.seed, end=date(2026, 11, 27))
        simulate(spec, export)
        print(f"simulated {args.deals:,} deals in {time.perf_counter() - started:.1f}s")
    size = sum(f.stat().st_size for f in export.glob("*.csv"))
    db = OUT / f"bench-{args.deals}.duckdb"
    for stale in OUT.glob(f"{db.name}*"):
        stale.unlink()
    quarterdeck = Path(sys.executable).with_name("quarterdeck")
    command = [str(quarterdeck), "--db", str(db), "import", str(export), "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"import failed: {done.stderr}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = json.loads(done.stdout)
    rows = result["rows_read"]
    events = result["counts"]["deal_events"]
    print(
        f"files: {size / 1e9:.2f} GB of CSV, {rows:,} rows read, {result['rows_rejected']} rejected"
    )
    print(
        f"deals: {result['counts']['deals']:,}; deal_events: {events:,}; "
        f"activities: {result['counts'].get('activities', 0):,}"
    )
    print(
        f"import: {seconds:.1f} s wall, {rows / seconds:,.0f} rows/s, "
        f"{events / seconds:,.0f} events/s, peak memory {peak_mb:,.0f} MB"
    )


if __name__ == "__main__":
    main()
