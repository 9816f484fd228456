"""Brief benchmark: the weekly brief of a simulated 1M-deal company.

Uses the database that ``bench/import_1m.py`` builds (bench/out/bench-1000000.duckdb: 1M
deals, 17.2M deal events, 8.2M activities), building it first when it is missing. Then runs
the real ``quarterdeck brief`` in a child process for each format and prints wall time and
the child's peak memory, and, in-process, the time of each part of the brief.

    .venv/bin/python bench/brief_1m.py [--deals N] [--seed S] [--repeat R]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def _child(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a child process running ``command``."""
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest of any child so far: report it only when it grew.
    return seconds, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    db = OUT / f"bench-{args.deals}.duckdb"
    if not db.exists():
        subprocess.run(
            [sys.executable, str(HERE / "import_1m.py"), "--deals", str(args.deals),
             "--seed", str(args.seed)],
            check=True,
        )  # fmt: skip

    from quarterdeck import Workspace
    from quarterdeck.report.brief import build_brief

    Workspace(db).close()  # bring an older database's schema up to date, once
    with Workspace(db, read_only=True) as ws:
        status = ws.status()
        print(
            f"database: {status.deals:,} deals, {status.deal_events:,} deal events, "
            f"{status.activities:,} activities"
        )
        timings: dict[str, float] = {}
        started = time.perf_counter()
        brief = build_brief(ws, timings=timings)
        total = time.perf_counter() - started
        print(f"in-process build_brief: {total:.2f} s (as of {brief.as_of:%Y-%m-%d %H:%M})")
        for part, seconds in timings.items():
            print(f"  {part:<22} {seconds:6.2f} s")

    quarterdeck = Path(sys.executable).with_name("quarterdeck")
    for fmt in ("json", "md", "html", "pdf"):
        target = OUT / f"brief-{args.deals}.{fmt}"
        runs = []
        peak = 0.0
        for _ in range(args.repeat if fmt != "pdf" else 1):
            command = [
                str(quarterdeck), "--db", str(db), "brief", "--format", fmt, "--out", str(target)
            ]  # fmt: skip
            seconds, peak = _child(command)
            runs.append(seconds)
        shown = " / ".join(f"{s:.2f}" for s in runs)
        print(
            f"quarterdeck brief --format {fmt}: {shown} s wall, peak memory {peak:,.0f} MB, "
            f"{target.stat().st_size / 1e3:,.0f} kB"
        )


if __name__ == "__main__":
    main()
