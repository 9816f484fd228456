"""The forecast and backtest commands, run as a user runs them, on a simulated company."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from quarterdeck import Workspace
from quarterdeck.simulate import SimulationSpec, simulate
from quarterdeck.simulate.calls import record_leader_calls

REQUIRED = {"method", "wape", "accuracy", "bias", "coverage_80"}


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    simulate(SimulationSpec(deals=1200, years=2.5, end=date(2026, 6, 30), seed=3), folder / "x")
    db = folder / "q.duckdb"
    with Workspace(db) as ws:
        ws.import_files([folder / "x"])
        record_leader_calls(ws, folder / "x")
    return db


def run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "quarterdeck.cli", "--db", str(db), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_forecast_json_is_saved_and_agrees_with_itself(company: Path) -> None:
    done = run(company, "forecast", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["period"] == "2026-Q2"
    methods = {m["method"]: m for m in result["methods"]}
    best = result["forecast"]
    assert best["method"] == "range" and best == methods["range"]
    assert best["p10"] <= best["forecast"] <= best["p90"]
    assert 0 <= best["p_target"] <= 1
    # Every method that reads won-so-far starts from it.
    for name in ("stage_weighted", "conversion", "deal_model"):
        assert methods[name]["forecast"] >= result["closed_won"]
    # The deals: probabilities in [0, 1], largest expected value first, with reasons.
    deals = result["deals"]
    assert deals and all(0 <= d["probability"] <= 1 for d in deals)
    expected = [d["expected"] for d in deals]
    assert expected == sorted(expected, reverse=True)
    assert any(d["reasons"] for d in deals)
    # The range of each team, rep and motion: the groups split what is won and what is open.
    groups = result["groups"]
    assert set(groups) == {"team", "owner", "motion"}
    for by, ranges in groups.items():
        assert sum(g["won"] for g in ranges) == pytest.approx(result["closed_won"]), by
        assert sum(g["open_deals"] for g in ranges) == len(deals), by
        for g in ranges:
            assert g["p10"] <= g["p50"] <= g["p90"] and g["p10"] >= g["won"] - 0.01
            assert (g["p_target"] is None) == (g["target"] is None)
    # Reps carry their quotas as targets (the simulator writes one per rep and quarter).
    assert any(g["target"] for g in groups["owner"])
    # Saved: one row per method, the range marked as the product's forecast.
    with Workspace(company, read_only=True) as ws:
        rows = ws.store.to_arrow(ws.store.table("forecasts")).to_pylist()
    assert {r["method"] for r in rows} == set(methods)
    assert [r["method"] for r in rows if r["chosen"]] == ["range"]


def test_a_forecast_as_of_a_past_moment_is_not_saved(company: Path) -> None:
    with Workspace(company, read_only=True) as ws:
        before = ws.store.to_arrow(ws.store.table("forecasts")).num_rows
    done = run(company, "forecast", "--as-of", "2026-02-10", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["period"] == "2026-Q1"
    with Workspace(company, read_only=True) as ws:
        assert ws.store.to_arrow(ws.store.table("forecasts")).num_rows == before


def test_backtest_json_lists_the_scores_scripts_read(company: Path) -> None:
    done = run(company, "backtest", "--periods", "2", "--named-only", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["periods"]) == 2
    methods = {m["method"]: m for m in result["methods"]}
    assert {"stage_weighted", "conversion", "deal_model", "range"} <= set(methods)
    for m in result["methods"]:
        assert set(m) >= REQUIRED
    assert methods["range"]["coverage_80"] is not None
    assert methods["stage_weighted"]["coverage_80"] is None  # a point forecast has no range
    assert 0.5 <= result["deal_probabilities"]["auc"] <= 1


def test_a_bad_moment_is_refused_with_the_flag_named(company: Path) -> None:
    done = run(company, "forecast", "--as-of", "not-a-date")
    assert done.returncode != 0
    assert "--as-of 'not-a-date'" in done.stderr
