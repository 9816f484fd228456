"""Salesforce imports: the real sample export, report exports, warehouse syncs, history."""

from __future__ import annotations

import csv
import shutil
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.compute as pc
import pytest
from testdata import TEST_DATA

from quarterdeck.history import deals_as_of
from quarterdeck.importer import ImportRequest, run_import
from quarterdeck.store import Store

SAMPLE = TEST_DATA / "salesforce"


def _import(store: Store, *paths: Path, **options: object):
    return run_import(store, ImportRequest(tuple(paths), **options))  # type: ignore[arg-type]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_sample_export_counts(store: Store) -> None:
    result = _import(store, SAMPLE)
    assert result.format == "salesforce"
    # SOURCE.md: 31 opportunities, 62 history rows, 13 accounts.
    assert result.rows_read == 31 + 62 + 13
    assert result.rows_rejected == 0
    deals = store.table("deals")
    assert store.scalar(deals.count()) == 31
    assert store.scalar(store.table("accounts").count()) == 13
    assert store.scalar(deals.is_won.sum()) == 18
    # Amount column of opportunity.csv summed by hand with a spreadsheet: 5,760,000.
    assert store.scalar(deals.amount.sum()) == Decimal("5760000.00")
    assert result.as_of == datetime(2023, 10, 28, 20, 45, 25)


def test_sample_custom_fields_and_booleans(store: Store) -> None:
    _import(store, SAMPLE)
    deals = store.table("deals")
    row = store.to_arrow(deals.filter(deals.deal_id == "006Hp000015Yh7kIAC")).to_pylist()[0]
    # opportunity.csv line 2: Dickenson Mobile Generators, Qualification, 15000, prob 10,
    # MainCompetitors__c = Honda, IsClosed 0, Type "New Customer".
    assert row["name"] == "Dickenson Mobile Generators"
    assert row["stage"] == "Qualification"
    assert row["amount"] == Decimal("15000.00")
    assert row["probability"] == pytest.approx(0.10)
    assert row["is_closed"] is False and row["is_won"] is False
    assert row["motion"] == "new_business"
    assert row["custom"] == '{"MainCompetitors__c":"Honda"}'
    stages = store.to_arrow(store.table("stages").order_by("sort_order")).to_pylist()
    assert [s["stage"] for s in stages][:3] == ["Prospecting", "Qualification", "Needs Analysis"]
    won = next(s for s in stages if s["stage"] == "Closed Won")
    assert won["is_won"] and won["is_closed"]


def test_as_of_each_history_row_matches_that_row(store: Store) -> None:
    _import(store, SAMPLE)
    history = _rows(SAMPLE / "OpportunityHistory.csv")
    # Rows at the same instant for one deal: the later Id is the later state.
    last: dict[tuple[str, str], dict[str, str]] = {}
    for row in sorted(history, key=lambda r: (r["OpportunityId"], r["CreatedDate"], r["Id"])):
        last[(row["OpportunityId"], row["CreatedDate"])] = row
    for (deal, at), row in last.items():
        state = store.to_arrow(deals_as_of(store, datetime.fromisoformat(at)))
        mine = state.filter(pc.equal(state.column("deal_id"), deal)).to_pylist()
        assert len(mine) == 1, deal
        assert mine[0]["stage"] == row["StageName"]
        assert mine[0]["amount"] == Decimal(row["Amount"]).quantize(Decimal("0.01"))
        assert mine[0]["close_date"].isoformat() == row["CloseDate"][:10]
    before = store.to_arrow(deals_as_of(store, datetime(2023, 10, 28, 20, 45, 24)))
    assert before.num_rows == 0  # nothing existed a second before the first history row


def test_reimport_adds_nothing(store: Store, tmp_path: Path) -> None:
    _import(store, SAMPLE)
    events = store.scalar(store.table("deal_events").count())
    again = _import(store, SAMPLE)
    assert again.skipped and again.import_id is None
    # The same content in different bytes (CRLF line ends) is not skipped by hash, but
    # still adds no event and no row.
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in SAMPLE.glob("*.csv"):
        (copy / f.name).write_bytes(f.read_bytes().replace(b"\n", b"\r\n"))
    result = _import(store, copy)
    assert result.import_id == 2
    assert result.counts["deal_events"] == 0
    assert store.scalar(store.table("deal_events").count()) == events
    assert store.scalar(store.table("deals").count()) == 31


def test_snapshot_diff_records_changes_at_export_time(store: Store, tmp_path: Path) -> None:
    first = tmp_path / "week1"
    shutil.copytree(SAMPLE, first)
    (first / "OpportunityHistory.csv").unlink()
    _import(store, first)  # no history file: values known from the export time on
    rows = _rows(first / "opportunity.csv")
    for row in rows:
        if row["Id"] == "006Hp000015Yh7kIAC":
            row["StageName"] = "Needs Analysis"
            row["Amount"] = "12000"
            row["SystemModstamp"] = "2023-11-04 09:00:00"
    second = tmp_path / "week2"
    second.mkdir()
    with (second / "opportunity.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)
    result = _import(store, second)
    assert result.as_of == datetime(2023, 11, 4, 9, 0)
    # stage and amount changed on one deal: two events, nothing else.
    assert result.counts["deal_events"] == 2
    old = store.to_arrow(deals_as_of(store, datetime(2023, 11, 1)))
    new = store.to_arrow(deals_as_of(store, datetime(2023, 11, 4, 9, 0)))
    pick = lambda t: t.filter(pc.equal(t.column("deal_id"), "006Hp000015Yh7kIAC")).to_pylist()[0]  # noqa: E731
    assert (pick(old)["stage"], pick(old)["amount"]) == ("Qualification", Decimal("15000.00"))
    assert (pick(new)["stage"], pick(new)["amount"]) == ("Needs Analysis", Decimal("12000.00"))
    events = store.table("deal_events")
    change = store.to_arrow(
        events.filter(events.field == "amount").filter(events.old_value.notnull())
    )
    assert change.to_pylist()[0]["old_value"] == "15000.00"
    assert change.to_pylist()[0]["origin"] == "snapshot"


def test_older_export_after_newer_is_refused(store: Store, tmp_path: Path) -> None:
    from quarterdeck.errors import DataError

    _import(store, SAMPLE)
    with pytest.raises(DataError, match="older than data already imported"):
        _import(store, SAMPLE / "opportunity.csv", as_of=datetime(2020, 1, 1))


REPORT = """\
"Opportunity Owner","Account Name","Opportunity Name","Stage","Fiscal Period","Amount","Probability (%)","Close Date","Created Date","Won","Closed","Type","Next Step"
"Ann Lee","Acme, Inc.","Acme renewal 2024","Negotiation/Review","Q2-2024","$12,500.00","90","06/28/24","03/01/2024 9:05 AM","FALSE","FALSE","Existing Customer - Renewal",""
"Ann Lee","Globex","Globex new logo","Closed Won","Q1-2024","$8,000","100","03/29/24","01/15/2024 2:30 PM","TRUE","TRUE","New Customer","done"
"Bo Chen","Initech","Initech upsell","Closed Lost","Q1-2024","4,250.50","0","02/02/24","11/20/2023 11:59 PM","FALSE","TRUE","Existing Customer - Upgrade",""
"""


def test_report_export_with_labels(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_text(REPORT, encoding="utf-8")
    result = _import(store, path)
    assert result.format == "salesforce"
    assert result.rows_rejected == 0
    deals = store.to_arrow(store.table("deals").order_by("name")).to_pylist()
    assert [d["deal_id"] for d in deals] == [
        "Acme, Inc. / Acme renewal 2024",
        "Globex / Globex new logo",
        "Initech / Initech upsell",
    ]
    acme, globex, initech = deals
    assert acme["amount"] == Decimal("12500.00") and acme["motion"] == "renewal"
    assert acme["close_date"].isoformat() == "2024-06-28"
    assert acme["created_at"] == datetime(2024, 3, 1, 9, 5)
    assert globex["created_at"] == datetime(2024, 1, 15, 14, 30)
    assert globex["is_won"] and globex["motion"] == "new_business"
    assert (
        initech["amount"] == Decimal("4250.50") and initech["is_closed"] and not initech["is_won"]
    )
    assert initech["created_at"] == datetime(2023, 11, 20, 23, 59)
    assert acme["owner_id"] == "Ann Lee"
    assert any("no Opportunity ID" in n for n in result.notices)


def test_warehouse_sync_shapes(store: Store, tmp_path: Path) -> None:
    source = TEST_DATA / "fivetran_salesforce"
    # As shipped every opportunity is deleted and values are hashed: the shapes are
    # recognised, deleted rows skipped and hashed picklists refused by name.
    result = _import(store, source, max_rejects=100)
    assert store.scalar(store.table("deals").count()) == 0
    assert store.scalar(store.table("users").count()) == 10
    assert store.scalar(store.table("accounts").count()) == 1  # 9 of 10 accounts are deleted
    assert any("deleted records" in n for n in result.notices)

    # The same tables with readable values import completely, history mode included.
    clean = tmp_path / "clean"
    clean.mkdir()
    for name in ("sf_opportunity_data.csv", "sf_opportunity_history_data.csv"):
        rows = _rows(source / name)
        for row in rows:
            row["is_deleted"] = "false"
            row["forecast_category"] = "Closed" if row["is_won"] == "true" else "Pipeline"
            row["forecast_category_name"] = row["forecast_category"]
            row["probability"] = "100" if row["is_won"] == "true" else "10"
        with (clean / name).open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    other = Store(tmp_path / "clean.duckdb")
    result = _import(other, clean)
    assert result.rows_rejected == 0
    deals = other.table("deals")
    assert other.scalar(deals.count()) == 10
    assert other.scalar(deals.is_won.sum()) == 5  # rows 1-5 of sf_opportunity_data have is_won true
    history_time = datetime(2019, 10, 17, 21, 10, 19)  # _fivetran_start of the first version row
    state = other.to_arrow(deals_as_of(other, history_time))
    assert "006q000000HddohAAB" in state.column("deal_id").to_pylist()
    other.close()
