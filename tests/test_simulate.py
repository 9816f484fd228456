"""Tests of the company simulator through its public entry point, `simulate`."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from pathlib import Path

import pytest

from quarterdeck.simulate import SimulationSpec, SimulationSummary, simulate

SPEC = SimulationSpec(deals=2_000, years=3.0, seed=11)
FILES = (
    "User.csv", "Account.csv", "Opportunity.csv", "OpportunityHistory.csv",
    "OpportunityFieldHistory.csv", "Task.csv", "OpportunityContactRole.csv",
    "ForecastingQuota.csv",
)  # fmt: skip
HISTORY_FIELDS = ("StageName", "Amount", "ExpectedRevenue", "CloseDate", "Probability",
                  "ForecastCategory")  # fmt: skip


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulationSummary, Path]:
    out = tmp_path_factory.mktemp("sim")
    return simulate(SPEC, out), out


def rows(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_files_written_and_summary_counts_rows(export: tuple[SimulationSummary, Path]) -> None:
    summary, out = export
    assert sorted(summary.files) == sorted(FILES)
    for name in FILES:
        assert summary.files[name] == len(rows(out, name)), name
    assert not list(out.glob(".*tmp"))
    assert summary.deals == summary.won + summary.lost + summary.open
    assert summary.history_rows == summary.files["OpportunityHistory.csv"]
    assert summary.activities == summary.files["Task.csv"]


def test_every_field_is_quoted_like_salesforce(export: tuple[SimulationSummary, Path]) -> None:
    _, out = export
    header, first = (out / "Opportunity.csv").read_text().splitlines()[:2]
    assert header.startswith('"Id","AccountId","Name","StageName"')
    assert first.startswith('"006') and first.endswith('"')
    assert '""' in first or ',""' not in first  # empty fields are written as ""


def test_deterministic_and_seed_sensitive(tmp_path: Path) -> None:
    spec = SimulationSpec(deals=400, years=1.0, seed=3)
    simulate(spec, tmp_path / "a")
    simulate(spec, tmp_path / "b")
    simulate(SimulationSpec(deals=400, years=1.0, seed=4), tmp_path / "c")
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "Opportunity.csv").read_bytes() != (
        tmp_path / "c" / "Opportunity.csv"
    ).read_bytes()


@pytest.mark.parametrize("years", [1.0, 5.0])
def test_deal_count_within_five_percent(tmp_path: Path, years: float) -> None:
    summary = simulate(SimulationSpec(deals=1_500, years=years, seed=5), tmp_path)
    assert abs(summary.deals - 1_500) <= 0.05 * 1_500


def test_ids_look_like_salesforce(export: tuple[SimulationSummary, Path]) -> None:
    _, out = export
    prefixes = {"User.csv": "005", "Account.csv": "001", "Opportunity.csv": "006",
                "OpportunityHistory.csv": "008", "OpportunityFieldHistory.csv": "017",
                "Task.csv": "00T", "OpportunityContactRole.csv": "00K",
                "ForecastingQuota.csv": "0J9"}  # fmt: skip
    for name, prefix in prefixes.items():
        ids = [r["Id"] for r in rows(out, name)]
        assert len(set(ids)) == len(ids), name
        assert all(len(i) == 18 and i.startswith(prefix) for i in ids), name
    # The 3-character suffix encodes which of the first 15 characters are upper case.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    for i in [r["Id"] for r in rows(out, "Opportunity.csv")[:50]]:
        suffix = "".join(
            alphabet[sum(1 << b for b, ch in enumerate(i[c * 5 : c * 5 + 5]) if ch.isupper())]
            for c in range(3)
        )
        assert i[15:] == suffix


def test_last_history_row_equals_opportunity(export: tuple[SimulationSummary, Path]) -> None:
    _, out = export
    last: dict[str, dict[str, str]] = {}
    for r in rows(out, "OpportunityHistory.csv"):  # rows come in time order per deal
        prev = last.get(r["OpportunityId"])
        assert prev is None or prev["CreatedDate"] <= r["CreatedDate"]
        last[r["OpportunityId"]] = r
    opps = rows(out, "Opportunity.csv")
    assert set(last) == {o["Id"] for o in opps}
    for o in opps:
        h = last[o["Id"]]
        assert [h[f] for f in HISTORY_FIELDS] == [o[f] for f in HISTORY_FIELDS], o["Id"]


def test_each_history_row_changes_something(export: tuple[SimulationSummary, Path]) -> None:
    _, out = export
    prev: dict[str, tuple[str, ...]] = {}
    for r in rows(out, "OpportunityHistory.csv"):
        values = tuple(r[f] for f in HISTORY_FIELDS)
        assert prev.get(r["OpportunityId"]) != values
        prev[r["OpportunityId"]] = values


def test_won_and_closed_flags_agree(export: tuple[SimulationSummary, Path]) -> None:
    _, out = export
    for o in rows(out, "Opportunity.csv"):
        closed = o["StageName"] in ("Closed Won", "Closed Lost")
        assert o["IsClosed"] == ("1" if closed else "0")
        assert o["IsWon"] == ("1" if o["StageName"] == "Closed Won" else "0")
        if o["IsWon"] == "1":
            assert (o["Probability"], o["ForecastCategory"]) == ("100", "Closed")
        if o["StageName"] == "Closed Lost":
            assert o["Loss_Reason__c"] in (
                "Price", "Competitor", "No Decision", "Timing", "Budget", "Went Dark",
            )  # fmt: skip
        else:
            assert o["Loss_Reason__c"] == ""
        amount, prob = float(o["Amount"]), int(o["Probability"])
        assert float(o["ExpectedRevenue"]) == pytest.approx(amount * prob / 100, abs=0.01)


def test_close_date_moves_while_open_are_pushes(export: tuple[SimulationSummary, Path]) -> None:
    """Before a deal closes its close date only moves later; some deals slip a lot."""
    _, out = export
    pushes: dict[str, int] = defaultdict(int)
    prev: dict[str, dict[str, str]] = {}
    for r in rows(out, "OpportunityHistory.csv"):
        p = prev.get(r["OpportunityId"])
        closing = r["StageName"] in ("Closed Won", "Closed Lost")
        if p is not None and not closing and r["CloseDate"] != p["CloseDate"]:
            assert r["CloseDate"] > p["CloseDate"]
            pushes[r["OpportunityId"]] += 1
        prev[r["OpportunityId"]] = r
    opps = len(prev)
    slipped_once = sum(1 for c in pushes.values() if c >= 1)
    slipped_often = sum(1 for c in pushes.values() if c >= 3)
    # Most deals slip 0-1 times; a minority keeps slipping.
    assert slipped_once < 0.6 * opps
    assert 0 < slipped_often < 0.2 * opps


def test_win_rates_by_motion(export: tuple[SimulationSummary, Path]) -> None:
    _, out = export
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for o in rows(out, "Opportunity.csv"):
        if o["IsClosed"] == "1":
            tally[o["Type"]][0] += o["IsWon"] == "1"
            tally[o["Type"]][1] += 1
    new_won, new_closed = tally["New Customer"]
    renew_won, renew_closed = tally["Existing Customer - Renewal"]
    assert 0.18 <= new_won / new_closed <= 0.35
    assert renew_won / renew_closed >= 0.7
    assert tally["Existing Customer - Upgrade"][1] > 0


def test_some_open_deals_and_some_stale(export: tuple[SimulationSummary, Path]) -> None:
    summary, out = export
    assert summary.open > 0
    today = SPEC.end.isoformat()
    stale = [o for o in rows(out, "Opportunity.csv")
             if o["IsClosed"] == "0" and o["CloseDate"] < today]  # fmt: skip
    assert 0 < len(stale) < summary.open


def test_quotas_every_quarter(export: tuple[SimulationSummary, Path]) -> None:
    _, out = export
    users = {u["Id"]: u for u in rows(out, "User.csv")}
    vp = [u["Id"] for u in users.values() if u["Title"] == "VP Sales"]
    assert len(vp) == 1
    quotas = rows(out, "ForecastingQuota.csv")
    start = SPEC.end - dt.timedelta(days=round(SPEC.years * 365.25) - 1)
    quarter = dt.date(start.year, 3 * ((start.month - 1) // 3) + 1, 1)
    while quarter <= SPEC.end:
        these = [q for q in quotas if q["StartDate"] == quarter.isoformat()]
        company = [q for q in these if q["QuotaOwnerId"] == vp[0]]
        reps = [q for q in these if users[q["QuotaOwnerId"]]["Title"] == "Account Executive"]
        assert len(company) == 1 and reps, quarter
        assert float(company[0]["QuotaAmount"]) != sum(float(q["QuotaAmount"]) for q in reps)
        month = quarter.month + 3
        quarter = dt.date(quarter.year + (month > 12), (month - 1) % 12 + 1, 1)


def test_org_shape(export: tuple[SimulationSummary, Path]) -> None:
    _, out = export
    users = rows(out, "User.csv")
    titles = {u["Title"] for u in users}
    assert titles == {"CEO", "VP Sales", "Sales Manager", "Account Executive",
                      "Sales Operations Analyst"}  # fmt: skip
    by_id = {u["Id"]: u for u in users}
    for u in users:
        if u["Title"] == "Account Executive":
            assert by_id[u["ManagerId"]]["Title"] == "Sales Manager"
        if u["Title"] == "Sales Manager":
            assert by_id[u["ManagerId"]]["Title"] == "VP Sales"
    reps = [u for u in users if u["Title"] == "Account Executive"]
    left = [u for u in reps if u["End_Date__c"]]
    assert left and all(u["IsActive"] == "0" for u in left)


def test_departed_reps_own_nothing_created_later(export: tuple[SimulationSummary, Path]) -> None:
    _, out = export
    end = {u["Id"]: u["End_Date__c"] for u in rows(out, "User.csv") if u["End_Date__c"]}
    for o in rows(out, "Opportunity.csv"):
        if o["OwnerId"] in end:
            assert o["CreatedDate"][:10] <= end[o["OwnerId"]]
            assert o["IsClosed"] == "1" or o["LastModifiedDate"][:10] <= end[o["OwnerId"]]


def test_every_reference_exists(export: tuple[SimulationSummary, Path]) -> None:
    _, out = export
    users = {u["Id"] for u in rows(out, "User.csv")}
    accounts = {a["Id"] for a in rows(out, "Account.csv")}
    opps = {o["Id"]: o for o in rows(out, "Opportunity.csv")}
    assert all(u["ManagerId"] in users for u in rows(out, "User.csv") if u["ManagerId"])
    assert all(a["OwnerId"] in users for a in rows(out, "Account.csv"))
    for o in opps.values():
        assert o["AccountId"] in accounts and o["OwnerId"] in users
    for t in rows(out, "Task.csv"):
        assert t["WhatId"] in opps and t["OwnerId"] in users
        assert t["AccountId"] == opps[t["WhatId"]]["AccountId"]
    for f in rows(out, "OpportunityFieldHistory.csv"):
        assert f["OpportunityId"] in opps
        assert {f["OldValue"], f["NewValue"], f["CreatedById"]} <= users
    for r in rows(out, "OpportunityContactRole.csv"):
        assert r["OpportunityId"] in opps and r["ContactId"].startswith("003")
    for h in rows(out, "OpportunityHistory.csv"):
        assert h["OpportunityId"] in opps and h["CreatedById"] in users
    assert all(q["QuotaOwnerId"] in users for q in rows(out, "ForecastingQuota.csv"))


def test_engagement_separates_won_from_lost(export: tuple[SimulationSummary, Path]) -> None:
    """Buyer replies and contacts are higher on won deals; calls say much less."""
    _, out = export
    outcome = {o["Id"]: o["StageName"] for o in rows(out, "Opportunity.csv")
               if o["IsClosed"] == "1"}  # fmt: skip
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for t in rows(out, "Task.csv"):
        counts[(t["WhatId"], t["Type"])] += 1
    for r in rows(out, "OpportunityContactRole.csv"):
        counts[(r["OpportunityId"], "contacts")] += 1

    def mean(kind: str, stage: str) -> float:
        ids = [i for i, s in outcome.items() if s == stage]
        return sum(counts[(i, kind)] for i in ids) / len(ids)

    def lift(kind: str) -> float:
        return mean(kind, "Closed Won") / mean(kind, "Closed Lost")

    # With hundreds of deals per side, a real effect shows as a clear ratio; a lift of 1.3
    # is well above the noise of these means (a few percent) and well below the effect.
    assert lift("Email Reply") > 1.3
    assert lift("contacts") > 1.15
    assert lift("Email Reply") > lift("Call")
