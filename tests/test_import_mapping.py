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
from quarterdeck.history import deals_as_of
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


# -- history rebuilt from dates -------------------------------------------------------------

DATED = MAPPING / "dated.toml"
DATED_FILES = (MAPPING / "dated-deals.csv", MAPPING / "dated-products.csv")


def _events(store: Store) -> list[tuple[object, ...]]:
    """Every stored event as (origin, deal, at, field, old, new), sorted by deal, time, field."""
    rows = store.to_arrow(store.table("deal_events")).to_pylist()
    events = [
        (r["origin"], r["deal_id"], r["at"], r["field"], r["old_value"], r["new_value"])
        for r in rows
    ]
    return sorted(events, key=lambda e: (e[1], e[2], e[3]))


def _as_of(store: Store, at: datetime) -> dict[str, tuple[object, ...]]:
    """deal -> (stage, amount, close_date, is_closed, is_won) as rebuilt at ``at``."""
    rows = store.to_arrow(deals_as_of(store, at)).to_pylist()
    return {
        r["deal_id"]: (r["stage"], r["amount"], r["close_date"], r["is_closed"], r["is_won"])
        for r in rows
    }


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text)


# dated-deals.csv (list prices in dated-products.csv: Alpha 1000, Beta 500; Gamma has none),
# as of 2024-03-31 (the latest close or engage date: D6 closes 2024-03-31):
#   D1 Won 1100, engaged 2024-01-10, closed 2024-02-20, Ann, Alpha
#   D2 Lost 0, engaged 2024-01-15, closed 2024-03-05, Bob, Beta
#   D3 Engaging (open), no value, engaged 2024-02-01, no close date, Ann, Beta
#   D4 Prospecting (open), no engage date, Bob
#   D5 Won 800, engaged 2024-03-10, closed 2024-03-01 (before it was engaged), Bob, Alpha
#   D6 Won 300, engaged 2024-02-10, closed 2024-03-31, Bob, Gamma (no list price)
R, S = "reconstructed", "snapshot"
DATED_EVENTS = [
    # D1: Engaging at Alpha's list price from its engage date; Won at 1100 on its close date.
    (R, "D1", _day("2024-01-10"), "amount", None, "1000.00"),
    (R, "D1", _day("2024-01-10"), "owner_id", None, "Ann"),
    (R, "D1", _day("2024-01-10"), "stage", None, "Engaging"),
    (R, "D1", _day("2024-02-20"), "amount", "1000.00", "1100.00"),
    (R, "D1", _day("2024-02-20"), "close_date", None, "2024-02-20"),
    (R, "D1", _day("2024-02-20"), "stage", "Engaging", "Won"),
    # D2: Engaging at Beta's 500, then Lost at 0 on 2024-03-05.
    (R, "D2", _day("2024-01-15"), "amount", None, "500.00"),
    (R, "D2", _day("2024-01-15"), "owner_id", None, "Bob"),
    (R, "D2", _day("2024-01-15"), "stage", None, "Engaging"),
    (R, "D2", _day("2024-03-05"), "amount", "500.00", "0.00"),
    (R, "D2", _day("2024-03-05"), "close_date", None, "2024-03-05"),
    (R, "D2", _day("2024-03-05"), "stage", "Engaging", "Lost"),
    # D3, open: its current values (no amount, no close date) from its engage date.
    (R, "D3", _day("2024-02-01"), "owner_id", None, "Ann"),
    (R, "D3", _day("2024-02-01"), "stage", None, "Engaging"),
    # D4, no engage date: a snapshot at the as-of date, as without the option.
    (S, "D4", _day("2024-03-31"), "owner_id", None, "Bob"),
    (S, "D4", _day("2024-03-31"), "stage", None, "Prospecting"),
    # D5 closed before it was engaged: its final values from its engage date on.
    (R, "D5", _day("2024-03-10"), "amount", None, "800.00"),
    (R, "D5", _day("2024-03-10"), "close_date", None, "2024-03-01"),
    (R, "D5", _day("2024-03-10"), "owner_id", None, "Bob"),
    (R, "D5", _day("2024-03-10"), "stage", None, "Won"),
    # D6: Gamma has no list price, so no amount until it is won at 300.
    (R, "D6", _day("2024-02-10"), "owner_id", None, "Bob"),
    (R, "D6", _day("2024-02-10"), "stage", None, "Engaging"),
    (R, "D6", _day("2024-03-31"), "amount", None, "300.00"),
    (R, "D6", _day("2024-03-31"), "close_date", None, "2024-03-31"),
    (R, "D6", _day("2024-03-31"), "stage", "Engaging", "Won"),
]


def test_history_from_dates(store: Store) -> None:
    result = _import(store, *DATED_FILES, mapping=DATED)
    assert result.as_of == datetime(2024, 3, 31)
    assert result.counts["deal_events"] == len(DATED_EVENTS) == 25  # 6 + 6 + 2 + 2 + 4 + 5
    assert _events(store) == DATED_EVENTS
    assert any(
        "dated-deals.csv: has no change log: the history of each deal not stored yet is "
        "rebuilt from engaged and closed" in n
        for n in result.notices
    )
    # The deals table holds the latest state, as without the option.
    deals = _deals(store)
    assert (deals["D1"]["stage"], deals["D1"]["amount"]) == ("Won", Decimal("1100.00"))
    assert (deals["D3"]["stage"], deals["D3"]["amount"]) == ("Engaging", None)


def test_history_from_dates_as_of(store: Store) -> None:
    _import(store, *DATED_FILES, mapping=DATED)
    d = Decimal
    # Before the first engage date (D1, 2024-01-10) no deal exists.
    assert _as_of(store, datetime(2024, 1, 9, 23, 59, 59)) == {}
    # 2024-02-19: D1, D2, D3 and D6 engaged, none closed; D1 at 1000, D2 at 500 (list prices).
    assert _as_of(store, datetime(2024, 2, 19)) == {
        "D1": ("Engaging", d("1000.00"), None, False, False),
        "D2": ("Engaging", d("500.00"), None, False, False),
        "D3": ("Engaging", None, None, False, False),
        "D6": ("Engaging", None, None, False, False),
    }
    # From 00:00 of its close date D1 is won, at its close value.
    assert _as_of(store, datetime(2024, 2, 20))["D1"] == (
        "Won", d("1100.00"), date(2024, 2, 20), True, True
    )  # fmt: skip
    # D5 (closed 03-01, engaged 03-10) does not exist before 03-10, and is won from then on.
    assert "D5" not in _as_of(store, datetime(2024, 3, 9, 23, 59, 59))
    assert _as_of(store, datetime(2024, 3, 10))["D5"] == (
        "Won", d("800.00"), date(2024, 3, 1), True, True
    )  # fmt: skip
    # At the as-of date the rebuilt deals are the deals table.
    deals = _deals(store)
    assert _as_of(store, datetime(2024, 3, 31)) == {
        k: (r["stage"], r["amount"], r["close_date"], r["is_closed"], r["is_won"])
        for k, r in deals.items()
    }
    assert _as_of(store, datetime(2024, 3, 31))["D4"] == ("Prospecting", None, None, False, False)


def _write_deals(path: Path, rows: list[str]) -> Path:
    header = (MAPPING / "dated-deals.csv").read_text(encoding="utf-8").splitlines()[0]
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_history_from_dates_then_snapshots(store: Store, tmp_path: Path) -> None:
    _import(store, *DATED_FILES, mapping=DATED)
    products = MAPPING / "dated-products.csv"
    lines = (MAPPING / "dated-deals.csv").read_text(encoding="utf-8").splitlines()[1:]
    # The same files again: recognised, nothing written.
    again = _import(store, *DATED_FILES, mapping=DATED)
    assert again.skipped is not None and again.import_id is None
    # The same deals in another order (other files, same content): nothing to add.
    reordered = _write_deals(tmp_path / "reordered.csv", lines[::-1])
    assert _import(store, reordered, products, mapping=DATED).counts["deal_events"] == 0
    assert _events(store) == DATED_EVENTS
    # A newer export in which D3 was won at 600 on 2024-04-15 (now the as-of date): the
    # change is a snapshot at that time, D3's past is left as it was stored.
    won = [
        line.replace("D3,Engaging,,2024-02-01,,", "D3,Won,600,2024-02-01,2024-04-15,")
        for line in lines
    ]
    assert won != lines
    newer = _import(store, _write_deals(tmp_path / "newer.csv", won), products, mapping=DATED)
    assert newer.as_of == datetime(2024, 4, 15)
    assert newer.counts["deal_events"] == 3
    d3 = [e for e in _events(store) if e[1] == "D3"]
    assert d3 == [
        (R, "D3", _day("2024-02-01"), "owner_id", None, "Ann"),
        (R, "D3", _day("2024-02-01"), "stage", None, "Engaging"),
        (S, "D3", _day("2024-04-15"), "amount", None, "600.00"),
        (S, "D3", _day("2024-04-15"), "close_date", None, "2024-04-15"),
        (S, "D3", _day("2024-04-15"), "stage", "Engaging", "Won"),
    ]
    # A deal first seen in a later export has its history rebuilt from its dates:
    # D7 Lost at 0, engaged 2024-04-01 (Alpha, 1000), closed 2024-04-10.
    more = _write_deals(tmp_path / "more.csv", [*won, "D7,Lost,0,2024-04-01,2024-04-10,Ann,Alpha"])
    assert _import(store, more, products, mapping=DATED).counts["deal_events"] == 6
    assert [e for e in _events(store) if e[1] == "D7"] == [
        (R, "D7", _day("2024-04-01"), "amount", None, "1000.00"),
        (R, "D7", _day("2024-04-01"), "owner_id", None, "Ann"),
        (R, "D7", _day("2024-04-01"), "stage", None, "Engaging"),
        (R, "D7", _day("2024-04-10"), "amount", "1000.00", "0.00"),
        (R, "D7", _day("2024-04-10"), "close_date", None, "2024-04-10"),
        (R, "D7", _day("2024-04-10"), "stage", "Engaging", "Lost"),
    ]
    assert len(_events(store)) == 25 + 3 + 6


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ('from_dates = true\nopened_stage = "Won"', "opened_stage must be one of the declared"),
        ("from_dates = true", "opened_stage must be one of the declared"),
        ('from_dates = "yes"', "from_dates must be true or false"),
        ('from_dates = true\nopened_stage = "Engaging"\nopened = 1', "unknown key"),
    ],
)
def test_history_from_dates_errors(
    store: Store, tmp_path: Path, history: str, message: str
) -> None:
    text = DATED.read_text(encoding="utf-8")
    start = text.index("[files.deals.history]")
    end = text.index("[files.products]")
    bad = tmp_path / "bad.toml"
    bad.write_text(text[:start] + "[files.deals.history]\n" + history + "\n\n" + text[end:])
    with pytest.raises(ConfigError, match=message):
        _import(store, *DATED_FILES, mapping=bad)


def test_history_from_dates_needs_created_at(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(DATED.read_text(encoding="utf-8").replace('created_at = "engaged"\n', ""))
    with pytest.raises(ConfigError, match="from_dates needs a column for created_at"):
        _import(store, *DATED_FILES, mapping=bad)


def test_history_from_dates_opened_amount_from_a_column(store: Store, tmp_path: Path) -> None:
    mapping = tmp_path / "value.toml"
    text = DATED.read_text(encoding="utf-8")
    mapping.write_text(text.replace('"product_list_price"', '"value"'))
    _import(store, *DATED_FILES, mapping=mapping)
    # D1 carries its own value (1100) from its engage date: no amount change when it closes.
    assert [e for e in _events(store) if e[1] == "D1" and e[3] == "amount"] == [
        (R, "D1", _day("2024-01-10"), "amount", None, "1100.00"),
    ]
    store.close()
    other = Store(tmp_path / "other.duckdb")
    mapping.write_text(text.replace('"product_list_price"', '"list"'))
    result = _import(other, *DATED_FILES, mapping=mapping)
    assert (
        "dated-deals.csv: lacks the column list named by opened_amount; closed deals have no "
        "amount before they close"
    ) in result.notices
    # Without an opened amount D1 has none until it closes.
    assert [e for e in _events(other) if e[1] == "D1" and e[3] == "amount"] == [
        (R, "D1", _day("2024-02-20"), "amount", None, "1100.00"),
    ]
    other.close()


def test_history_from_dates_never_after_as_of(store: Store) -> None:
    # Told the export is as of 2024-03-20, D6 (closed 2024-03-31) is won at that time, so
    # the rebuilt state at the as-of date is the deals table.
    _import(store, *DATED_FILES, mapping=DATED, as_of=datetime(2024, 3, 20))
    assert [e for e in _events(store) if e[1] == "D6" and e[3] == "stage"] == [
        (R, "D6", _day("2024-02-10"), "stage", None, "Engaging"),
        (R, "D6", _day("2024-03-20"), "stage", "Engaging", "Won"),
    ]
    assert store.scalar(store.table("deal_events").at.max()) == datetime(2024, 3, 20)


@needs_data
def test_maven_history_from_dates(store: Store) -> None:
    folder = DATA / "maven_crm_sales_opportunities"
    _import(store, folder)
    rows = _csv(folder / "sales_pipeline.csv")
    price = {r["product"]: Decimal(r["sales_price"]) for r in _csv(folder / "products.csv")}
    engaged = [r for r in rows if r["engage_date"]]
    closed = [r for r in rows if r["deal_stage"] in ("Won", "Lost")]
    at_list_price = [
        r
        for r in closed
        if Decimal(r["close_value"]) == price[r["product"].replace("GTXPro", "GTX Pro")]
    ]
    # Counted with the csv module: 8,300 engaged deals (the 500 Prospecting ones have no
    # engage date), 6,711 closed, 65 of them closed at their product's list price.
    assert (len(engaged), len(closed), len(at_list_price)) == (8300, 6711, 65)
    events = store.table("deal_events")
    counts = store.to_arrow(events.group_by(["origin", "field"]).aggregate(n=events.count()))
    by = {(r["origin"], r["field"]): r["n"] for r in counts.to_pylist()}
    assert by == {
        # one stage and one owner per engaged deal, one more stage for each closed deal
        ("reconstructed", "stage"): 8300 + 6711,
        ("reconstructed", "owner_id"): 8300,
        # the list price from the engage date, the close value unless equal to it
        ("reconstructed", "amount"): 6711 + 6711 - 65,
        ("reconstructed", "close_date"): 6711,
        # Prospecting deals, without an engage date, at the as-of date
        ("snapshot", "stage"): 500,
        ("snapshot", "owner_id"): 500,
    }
    # Line 2: 1C1I7A6R, GTX Plus Basic (list price 1096), engaged 2016-10-20, won at 1054
    # on 2017-03-01.
    assert "1C1I7A6R" not in _as_of(store, datetime(2016, 10, 19, 23, 59, 59))
    assert _as_of(store, datetime(2016, 10, 20))["1C1I7A6R"] == (
        "Engaging", Decimal("1096.00"), None, False, False
    )  # fmt: skip
    assert _as_of(store, datetime(2017, 2, 28, 23, 59, 59))["1C1I7A6R"][:2] == (
        "Engaging", Decimal("1096.00")
    )  # fmt: skip
    assert _as_of(store, datetime(2017, 3, 1))["1C1I7A6R"] == (
        "Won", Decimal("1054.00"), date(2017, 3, 1), True, True
    )  # fmt: skip
