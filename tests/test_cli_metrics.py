"""The metric commands, through the real CLI, on the Salesforce sample export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from testdata import TEST_DATA

CLI = [sys.executable, "-m", "quarterdeck.cli"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "q.duckdb"
    subprocess.run([*CLI, "--db", str(path), "import", str(TEST_DATA / "salesforce")], check=True)
    return path


def _run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "--db", str(db), *args], capture_output=True, text=True, check=False
    )


def test_bookings_json(db: Path) -> None:
    done = _run(db, "bookings", "--period", "2023-Q3", "--json")
    assert done.returncode == 0, done.stderr
    company = json.loads(done.stdout)["lines"][0]
    # opportunity.csv: 11 won deals close in July-September 2023, worth 1,825,000; no target.
    assert company == {
        "key": None,
        "bookings": "1825000.00",
        "won_count": 11,
        "target": None,
        "attainment": None,
        "gap": None,
    }


def test_win_rate_by_motion(db: Path) -> None:
    done = _run(db, "win-rate", "--period", "2023", "--by", "motion", "--json")
    lines = {line["key"]: line for line in json.loads(done.stdout)["lines"]}
    # Won deals by Type: 11 "Existing Customer - Upgrade" (expansion) and
    # 7 "New Customer"; no deal is lost in the sample, so both rates are 100%.
    assert (lines["expansion"]["won"], lines["new_business"]["won"]) == (11, 7)
    assert lines[None]["lost"] == 0 and lines[None]["by_count"] == "1"


def test_pipeline_and_explain(db: Path) -> None:
    payload = json.loads(_run(db, "pipeline", "--json").stdout)
    # 13 open deals (IsClosed 0) worth 2,115,000.
    assert (payload["count"], payload["amount"]) == (13, "2115000.00")
    explained = _run(db, "pipeline", "--explain")
    assert explained.returncode == 0 and "SELECT" in explained.stdout


def test_bad_period_is_one_clean_line(db: Path) -> None:
    done = _run(db, "bookings", "--period", "2023-Q5")
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot read period '2023-Q5'")
    assert "Traceback" not in done.stderr
