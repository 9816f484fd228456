"""Mapped imports: a hand-written mapping, and the shipped Maven and IBM mappings."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from testdata import TEST_DATA

from quarterdeck.errors import ConfigError, RejectsExceeded
from quarterdeck.importer import ImportRequest, ImportResult, run_import
from quarterdeck.store import Store

MAPPING = TEST_DATA / "mapping"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(
    not DATA.exists(),
    reason="../shared/data not present: the Maven and IBM public data sets sit beside the repo",
)


def _import(store: Store, *paths: Path, **options: object) -> ImportResult:
    return run_import(store, ImportRequest(tuple(paths), **options))  # type: ignore[arg-type]


def _deals(store: Store) -> dict[str, dict[str, object]]:
    return {r["deal_id"]: r for r in store.to_arrow(store.table("deals")).to_pylist()}


@pytest.mark.parametrize("mapping", ["shop.toml", "shop.yaml"])
def test_small_mapping(store: Store, mapping: str) -> None:
    files = (MAPPING / "shop-deals.csv", MAPPING / "shop-team.csv")
    with pytest.raises(RejectsExceeded) as caught:
        _import(store, *files, mapping=MAPPING / mapping)
    # Line 5 of shop-deals.csv: S4 is in "Negotiation", a stage the mapping does not declare.
    assert "shop-deals.csv, line 5, column Phase: 'Negotiation': is an unknown stage" in str(
        caught.value
    )
    result = _import(store, *files, mapping=MAPPING / mapping, max_rejects=1)
    assert result.format == "mapping"
    assert (result.rows_read, result.rows_rejected) == (7, 1)
    deals = _deals(store)
    assert set(deals) == {"S1", "S2", "S3", "S5"}
    s1 = deals["S1"]
    assert (s1["is_closed"], s1["is_won"], s1["amount"]) == (True, True, Decimal("1000.00"))
    assert s1["close_date"] == date(2024, 3, 15)  # 15/03/2024, day first
    assert s1["created_at"] == datetime(2024, 2, 1)
    assert s1["custom"] == '{"channel":"web"}'
    assert deals["S2"]["motion"] == "expansion"  # "Upsell" through the value map
    assert (deals["S2"]["is_closed"], deals["S2"]["is_won"]) == (True, False)
    assert (deals["S3"]["is_closed"], deals["S3"]["product"]) == (False, "Widget")
    assert deals["S5"]["amount"] is None
    # The declared fix: "Widgit" on lines 3 and 4, reported with its count.
    assert (
        "shop-deals.csv, column Item: 2 rows had 'Widgit', corrected to 'Widget' "
        "(a fix declared in the mapping) (lines 3, 4)"
    ) in result.notices
    assert any("column Value: 1 row has no amount (1 open, 0 closed)" in n for n in result.notices)
    # Latest of close and open dates: S3 and S4 close 30/04/2024, but S4 is rejected.
    assert result.as_of == datetime(2024, 4, 30)
    users = {r["user_id"]: r for r in store.to_arrow(store.table("users")).to_pylist()}
    assert users["Ann"]["manager_id"] == "Cleo"
    stages = store.to_arrow(store.table("stages").order_by("sort_order")).to_pylist()
    assert [(s["stage"], s["is_closed"], s["is_won"]) for s in stages] == [
        ("Lead", False, False),
        ("Offer", False, False),
        ("Signed", True, True),
        ("Lost", True, False),
    ]


def test_mapping_errors_are_config_errors(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[files.deals.columns]\nstage = "Phase"\n')
    with pytest.raises(ConfigError, match="deal_id is required"):
        _import(store, MAPPING / "shop-deals.csv", mapping=bad)
    bad.write_text('[files.deals.columns]\ndeal_id = "Ref"\nstage = "Phase"\n')
    with pytest.raises(ConfigError, match="declare the stages"):
        _import(store, MAPPING / "shop-deals.csv", mapping=bad)


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


@needs_data
def test_maven(store: Store) -> None:
    folder = DATA / "maven_crm_sales_opportunities"
    result = _import(store, folder)
    assert result.format == "maven"
    assert result.rows_rejected == 0
    deals = store.table("deals")
    # SOURCE.md: 8,800 opportunities; Won 4,238; won close_value summed: 10,005,534.
    assert store.scalar(deals.count()) == 8800
    assert store.scalar(deals.is_won.sum()) == 4238
    assert store.scalar(deals.filter(deals.is_won).amount.sum()) == Decimal("10005534.00")
    assert store.scalar(deals.filter(deals.account_id.isnull()).count()) == 1425
    notices = "\n".join(result.notices)
    # The traps of SOURCE.md, each reported with its count (counted with the csv module).
    assert "1,480 rows had 'GTXPro', corrected to 'GTX Pro'" in notices
    assert "12 rows had 'technolgy', corrected to 'technology'" in notices
    assert "1,425 rows have no account_id (1,425 open, 0 closed)" in notices
    assert "2,089 rows have no amount (2,089 open, 0 closed)" in notices
    assert "500 rows have no created_at (500 open, 0 closed)" in notices
    assert "2,473 rows have an amount of 0 (0 won, 2,473 lost, 0 open)" in notices
    assert "product the products file does not hold" not in notices
    assert store.scalar(deals.filter(deals.motion != "new_business").count()) == 0
    gtx = store.to_arrow(deals.filter(deals.deal_id == "Z063OYW0")).to_pylist()[0]
    assert gtx["product"] == "GTX Pro"
    assert '"product_list_price":"4821.00"' in gtx["custom"]
    users = {r["user_id"]: r for r in store.to_arrow(store.table("users")).to_pylist()}
    assert len(users) == 35
    assert users["Anna Snelling"]["team"] == "Dustin Brinkmann"
    assert users["Anna Snelling"]["custom"] == '{"region":"Central"}'
    accounts = store.table("accounts")
    assert store.scalar(accounts.count()) == 85
    assert store.scalar(accounts.filter(accounts.industry == "technology").count()) == 12
    assert result.as_of == datetime(2017, 12, 31)


@needs_data
def test_ibm_win_loss(store: Store) -> None:
    path = DATA / "ibm_watson_sales_win_loss" / "WA_Fn-UseC_-Sales-Win-Loss.csv"
    rows = _csv(path)
    by_id: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for row in rows:
        by_id[row["Opportunity Number"]].append(tuple(row.values()))
    exact_repeats = sum(len(v) - 1 for v in by_id.values() if len(v) > 1 and len(set(v)) == 1)
    conflicting = sum(len(v) for v in by_id.values() if len(set(v)) > 1)
    kept = [v[0] for v in by_id.values() if len(set(v)) == 1]
    won = sum(1 for v in kept if v[6] == "Won")
    # SOURCE.md: 78,025 rows, 77,829 opportunity numbers.
    assert (len(rows), len(by_id)) == (78025, 77829)
    assert (exact_repeats, conflicting) == (50, 283)

    with pytest.raises(RejectsExceeded, match="duplicate deal id with different values"):
        _import(store, path)
    result = _import(store, path, max_rejects=conflicting)
    assert result.format == "ibm-win-loss"
    assert (result.rows_read, result.rows_rejected) == (78025, conflicting)
    deals = store.table("deals")
    assert store.scalar(deals.count()) == len(kept)
    assert store.scalar(deals.is_closed.sum()) == len(kept)
    assert store.scalar(deals.is_won.sum()) == won
    assert str(store.scalar(deals.close_date.min()))[:10] == "2015-04-01"
    assert str(store.scalar(deals.close_date.max()))[:10] == "2015-04-01"
    assert store.scalar(deals.created_at.count()) == 0
    assert result.as_of == datetime(2015, 4, 1)
    notices = "\n".join(result.notices)
    assert "50 rows repeat an earlier deal id exactly" in notices
    assert "close_date set to the as-of date 2015-04-01" in notices
    first = store.to_arrow(deals.filter(deals.deal_id == "1641984")).to_pylist()[0]
    # Line 2: Won, amount 0, Exterior Accessories, Fields Sales, 76 days in stage, 13 changes.
    assert (first["is_won"], first["amount"], first["product"], first["source"]) == (
        True,
        Decimal("0.00"),
        "Exterior Accessories",
        "Fields Sales",
    )
    assert '"region":"Northwest"' in first["custom"]
    assert '"known_at_close":{"elapsed_days_in_sales_stage":"76"' in first["custom"]
    assert '"sales_stage_change_count":"13"' in first["custom"]
