"""A process killed in the middle of an import leaves the database exactly as it was.

A big Salesforce-shaped export is imported by ``quarterdeck import`` into a database
that already holds the sample export, and the process is killed (SIGKILL: no cleanup,
no rollback handler) at three moments inside the writing phase. After each kill every
table must equal its content before the import, and at the end the database must take a
new import as usual.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
from bad_inputs import SAMPLE, sample
from test_bad_input import dump

from quarterdeck.workspace import Workspace

QUARTERDECK = Path(sys.executable).parent / "quarterdeck"
DEALS = 80_000
"""Enough deals for the writing phase to last a few seconds."""

_STAGES = np.array(
    ["Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote",
     "Negotiation/Review", "Closed Won", "Closed Lost"]
)  # fmt: skip

_MEASURE = """
import json, os, sys, time
started = time.monotonic()
from quarterdeck.workspace import Workspace
size = os.path.getsize(sys.argv[1])
phases = {}
def progress(step, done):
    phases.setdefault(step, time.monotonic() - started)
    if step == "done":
        phases["grown"] = os.path.getsize(sys.argv[1]) - size
with Workspace(sys.argv[1]) as ws:
    ws.import_files([sys.argv[2]], progress=progress)
print(json.dumps(phases))
"""
"""Times (from process start) at which an import enters each phase, and how much the
database file grew by the time the import's transaction was committed."""


def write_export(folder: Path, n: int) -> None:
    """A Salesforce data export of ``n`` deals with two history rows each, as of 2024-12-31."""
    rng = np.random.default_rng(11)
    folder.mkdir(parents=True)
    index = np.arange(n)
    ids = np.char.add(np.char.add("006Zz", np.char.zfill(index.astype(str), 10)), "AAA")
    stage = rng.integers(0, len(_STAGES), n)
    created = np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 300 * 86400, n).astype(
        "timedelta64[s]"
    )
    close = (created + rng.integers(10, 200, n).astype("timedelta64[D]")).astype("datetime64[D]")
    closed, won = stage >= 5, stage == 5
    amount = (rng.integers(1, 2000, n) * 100).astype(str)

    def stamp(times: np.ndarray) -> np.ndarray:
        return np.char.replace(np.datetime_as_string(times, unit="s"), "T", " ")

    opportunities = pa.table(
        {
            "Id": ids,
            "IsDeleted": np.full(n, "0"),
            "AccountId": np.full(n, "001Hp00002g1VGeIAM"),
            "Name": np.char.add("Big deal ", index.astype(str)),
            "StageName": _STAGES[stage],
            "Amount": amount,
            "Probability": (stage * 15).astype(str),
            "CloseDate": np.datetime_as_string(close),
            "Type": np.full(n, "New Customer"),
            "IsClosed": closed.astype(int).astype(str),
            "IsWon": won.astype(int).astype(str),
            "ForecastCategoryName": np.where(closed, "Closed", "Pipeline"),
            "OwnerId": np.full(n, "005Hp00000hnUYPIA2"),
            "CreatedDate": stamp(created),
            "LastModifiedDate": np.full(n, "2024-12-31 12:00:00"),
        }
    )
    pcsv.write_csv(opportunities, folder / "Opportunity.csv")
    of = np.repeat(index, 2)
    first = np.tile([True, False], n)
    history = pa.table(
        {
            "Id": np.char.add(np.char.add("008Zz", np.char.zfill(np.arange(2 * n).astype(str), 10)), "AAA"),
            "OpportunityId": ids[of],
            "CreatedDate": stamp(created[of] + np.where(first, 0, 5 * 86400).astype("timedelta64[s]")),
            "StageName": np.where(first, "Prospecting", _STAGES[stage][of]),
            "Amount": amount[of],
            "CloseDate": np.datetime_as_string(close[of]),
            "Probability": np.where(first, "10", (stage * 15).astype(str)[of]),
            "ForecastCategory": np.where(closed[of] & ~first, "Closed", "Pipeline"),
            "IsDeleted": np.full(2 * n, "0"),
        }
    )  # fmt: skip
    pcsv.write_csv(history, folder / "OpportunityHistory.csv")


def _kill_when_grown(db: Path, export: Path, growth: int) -> bool:
    """Start ``quarterdeck import`` and SIGKILL it once the database file has grown by
    ``growth`` bytes: rows are being written inside the open transaction. Returns False if
    the import finished before that (the kill came too late to test anything)."""
    size = db.stat().st_size
    process = subprocess.Popen(
        [str(QUARTERDECK), "--db", str(db), "import", str(export)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and db.stat().st_size - size < growth:
            assert time.monotonic() < deadline, "the import did not reach its writing phase"
            time.sleep(0.005)
        if process.poll() is not None:
            return False
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_kill_during_import_leaves_database_as_it_was(tmp_path: Path) -> None:
    export = tmp_path / "export"
    write_export(export, DEALS)
    pristine = tmp_path / "pristine" / "quarterdeck.duckdb"
    pristine.parent.mkdir()
    with Workspace(pristine) as ws:
        assert ws.import_files([SAMPLE]).import_id == 1
    before = dump(pristine)
    db = tmp_path / "db" / "quarterdeck.duckdb"
    db.parent.mkdir()

    # A full import on a copy: how much the file grows by the time the import commits.
    shutil.copy(pristine, db)
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(db), str(export)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    phases = json.loads(measured.stdout.strip().splitlines()[-1])
    assert phases["grown"] > 1 << 20, f"the import writes too little to be caught: {phases}"
    with Workspace(db, read_only=True) as ws:
        assert ws.status().deals == 31 + DEALS

    # Kill it as soon as it writes, a third of the way, and two thirds of the way through.
    for share in (0.0, 0.33, 0.66):
        growth = max(1, int(share * phases["grown"]))
        for _attempt in range(3):
            db.unlink()
            shutil.copy(pristine, db)
            if _kill_when_grown(db, export, growth):
                break
            growth //= 2  # it finished first: try earlier
        else:
            pytest.fail(f"could not kill the import before it finished ({phases})")
        assert dump(db) == before, f"the database changed after a kill at {share:.0%} ({phases})"

    # The killed database opens as usual and takes a new import (the sample, a deal renamed).
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for name, content in sample().items():
        (renamed / name).write_bytes(content.replace(b"United Oil SLA", b"United Oil SLA 2"))
    with Workspace(db) as ws:
        result = ws.import_files([renamed])
        assert result.import_id == 2 and result.rows_rejected == 0
        names = ws.store.to_arrow(ws.store.table("deals").select("name")).column(0).to_pylist()
    assert "United Oil SLA 2" in names and len(names) == 31
