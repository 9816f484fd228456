"""HubSpot imports: web UI exports in the encodings people have, and Fivetran warehouse syncs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from testdata import TEST_DATA

from quarterdeck.errors import RejectsExceeded
from quarterdeck.history import deals_as_of
from quarterdeck.importer import ImportRequest, ImportResult, run_import
from quarterdeck.store import Store

HUBSPOT = TEST_DATA / "hubspot"


def _import(store: Store, *paths: Path, **options: object) -> ImportResult:
    return run_import(store, ImportRequest(tuple(paths), **options))  # type: ignore[arg-type]


def _deals(store: Store) -> dict[str, dict[str, object]]:
    rows = store.to_arrow(store.table("deals")).to_pylist()
    return {r["deal_id"]: r for r in rows}


def test_ui_export_utf8_bom(store: Store) -> None:
    result = _import(store, HUBSPOT / "ui" / "hubspot-deals.csv")
    assert result.format == "hubspot"
    assert (result.rows_read, result.rows_rejected) == (4, 0)
    # Latest Last Modified Date in the file: 2024-03-22 08:15 (deal 9004).
    assert result.as_of == datetime(2024, 3, 22, 8, 15)
    deals = _deals(store)
    acme = deals["9001"]
    assert acme["name"] == "Acme renewal 2024"
    assert acme["amount"] == Decimal("12500.00")  # "12,500.00"
    assert acme["close_date"] == date(2024, 3, 15)  # "2024-03-15 14:02"
    assert acme["created_at"] == datetime(2024, 1, 5, 9, 30)
    assert (acme["is_closed"], acme["is_won"]) == (True, True)
    assert acme["motion"] == "renewal"
    assert acme["owner_id"] == "Dana Reyes"
    assert acme["account_id"] == "501"
    assert acme["forecast_category"] == "closed"
    assert acme["pipeline"] == "Sales Pipeline"
    assert acme["custom"] == '{"Lead Score":"80"}'
    globex = deals["9002"]
    assert globex["name"].replace("\r\n", "\n") == "Globex\nexpansion"  # quoted newline
    assert globex["amount"] == Decimal("1250000.00")
    assert globex["close_date"] == date(2024, 3, 29)  # "03/29/2024"
    assert globex["motion"] == "expansion"  # existingbusiness
    assert globex["probability"] == pytest.approx(0.9)
    assert (globex["is_closed"], globex["is_won"]) == (False, False)
    initech = deals["9003"]
    assert (initech["is_closed"], initech["is_won"]) == (True, False)
    assert initech["loss_reason"] == "Went with a competitor"
    assert initech["motion"] == "new_business"
    hooli = deals["9004"]
    # A custom pipeline's stage: open; several companies: the first, with a notice.
    assert (hooli["stage"], hooli["is_closed"]) == ("Pilot Running", False)
    assert hooli["pipeline"] == "Partner Pipeline"
    assert hooli["amount"] is None
    assert hooli["account_id"] == "504"
    assert any("several companies" in n and "1 row" in n for n in result.notices)
    accounts = {
        r["account_id"]: r["name"] for r in store.to_arrow(store.table("accounts")).to_pylist()
    }
    assert accounts == {"501": "Acme Corp", "502": "Globex", "503": "Initech", "504": "Hooli"}


def test_ui_export_cp1252_decimal_comma(store: Store) -> None:
    result = _import(store, HUBSPOT / "hubspot-deals-eu.csv", date_order="DMY")
    assert result.rows_rejected == 0
    deals = _deals(store)
    assert deals["7001"]["amount"] == Decimal("1234.50")  # "€ 1.234,50"
    assert deals["7002"]["amount"] == Decimal("12000.00")  # "12.000,00"
    assert deals["7001"]["name"] == "Müller GmbH Erweiterung"
    assert deals["7002"]["name"] == "Café Lumière"
    assert deals["7001"]["owner_id"] == "Jörg Weiß"
    assert deals["7001"]["close_date"] == date(2024, 3, 15)
    assert deals["7001"]["motion"] == "expansion"  # "Existing Business"
    assert result.as_of == datetime(2024, 3, 20, 8, 0)


def test_ui_export_rejects_deal_without_stage_or_pipeline(store: Store) -> None:
    path = HUBSPOT / "hubspot-deals-bad.csv"
    with pytest.raises(RejectsExceeded) as caught:
        _import(store, path)
    message = str(caught.value)
    assert "line 3" in message and "neither a stage nor a pipeline" in message
    assert "line 4" in message and "'lots': is not an amount" in message
    result = _import(store, path, max_rejects=2)
    assert (result.rows_read, result.rows_rejected, result.rows_accepted) == (4, 2, 2)
    assert set(_deals(store)) == {"8001", "8004"}
    assert any("pipeline but no stage" in n for n in result.notices)


def test_ui_export_with_pipeline_stage_file(store: Store) -> None:
    result = _import(store, HUBSPOT / "ui_stages")
    assert result.rows_rejected == 0
    deals = _deals(store)
    flags = {k: (v["is_closed"], v["is_won"]) for k, v in deals.items()}
    # pipeline_stages.csv: Signed is won, Dropped is lost, and in this pipeline a stage
    # labelled "Closed Won" is closed but not won.
    assert flags == {
        "6001": (True, True),
        "6002": (True, False),
        "6003": (True, False),
        "6004": (False, False),
    }
    stages = store.to_arrow(store.table("stages").order_by("sort_order")).to_pylist()
    assert [(s["pipeline"], s["stage"]) for s in stages] == [
        ("Partner Pipeline", "Introduced"),
        ("Partner Pipeline", "Signed"),
        ("Partner Pipeline", "Dropped"),
        ("Partner Pipeline", "Closed Won"),
    ]


def test_warehouse_stage_and_property_history(store: Store) -> None:
    folder = HUBSPOT / "warehouse"
    result = _import(store, folder, max_rejects=2)
    assert result.format == "hubspot"
    # deal 4 + deal_stage 9 + property history 10 + stages 6 + pipeline 1 + owners 2
    assert result.rows_read == 32
    # deal_stage line 10 (deal 999 is not in deal.csv), property history line 11 ("a lot").
    assert result.rows_rejected == 2
    deals = _deals(store)
    assert set(deals) == {"101", "102", "103"}  # 104 is deleted
    assert deals["101"]["stage"] == "Closed Won"  # stage id closedwon, label from the file
    assert deals["101"]["pipeline"] == "Sales Pipeline"
    assert (deals["101"]["is_closed"], deals["101"]["is_won"]) == (True, True)
    # Deal 102 has no stage in deal.csv: it takes its last stage entered (the closedlost
    # entry is a superseded version, _fivetran_active FALSE).
    assert deals["102"]["stage"] == "Qualified To Buy"
    assert deals["102"]["motion"] == "expansion"
    assert deals["101"]["custom"] == '{"property_lead_score":"90"}'
    users = {r["user_id"]: r["name"] for r in store.to_arrow(store.table("users")).to_pylist()}
    assert users == {"11": "Dana Reyes", "12": "Sam Ortiz"}
    assert store.scalar(store.table("stages").count()) == 5  # 6 less one deleted
    assert result.as_of == datetime(2024, 3, 20, 12, 0)

    def at(when: datetime) -> dict[str, dict[str, object]]:
        rows = store.to_arrow(deals_as_of(store, when)).to_pylist()
        return {r["deal_id"]: r for r in rows}

    # Deal 101 entered Appointment Scheduled 2024-01-08, Contract Sent 2024-02-15 16:30 and
    # Closed Won 2024-03-20 12:00; amount 40000 then 50000 on 2024-02-15; close date
    # 1711670400000 ms = 2024-03-29, then 1710892800000 ms = 2024-03-20.
    february = at(datetime(2024, 2, 1))["101"]
    assert february["stage"] == "Appointment Scheduled"
    assert february["amount"] == Decimal("40000.00")
    assert february["close_date"] == date(2024, 3, 29)
    assert february["forecast_category"] == "pipeline"
    assert february["is_closed"] is False
    march = at(datetime(2024, 3, 1))["101"]
    assert march["stage"] == "Contract Sent"
    assert march["amount"] == Decimal("50000.00")
    assert march["forecast_category"] == "commit"
    later = at(datetime(2024, 3, 21))["101"]
    assert (later["stage"], later["is_won"], later["close_date"]) == (
        "Closed Won",
        True,
        date(2024, 3, 20),
    )
    # Owner of 102 changed from 11 to 12 on 2024-02-25.
    assert at(datetime(2024, 2, 10))["102"]["owner_id"] == "11"
    assert at(datetime(2024, 3, 1))["102"]["owner_id"] == "12"
    assert at(datetime(2024, 2, 10))["103"]["stage"] == "Appointment Scheduled"
    assert at(datetime(2024, 3, 1))["103"]["stage"] == "Closed Lost"


def test_fivetran_fixtures_shapes(store: Store) -> None:
    folder = HUBSPOT / "fivetran"
    # Counted with Python's csv module (see fivetran/SOURCE.md): no deal has a stage or a
    # pipeline (44 rejects) and no deal_stage row names a deal of deal_data (14 rejects).
    with pytest.raises(RejectsExceeded):
        _import(store, folder)
    result = _import(store, folder, max_rejects=58)
    assert result.format == "hubspot"
    assert result.rows_read == 44 + 6 + 71 + 100 + 14 + 100
    assert result.rows_rejected == 44 + 14
    assert store.scalar(store.table("users").count()) == 100
    assert store.scalar(store.table("stages").count()) == 71 - 2  # two deleted stages
    won = store.table("stages").filter(store.table("stages").is_won)
    assert store.scalar(won.count()) == 5  # closed_won TRUE in 5 rows, none deleted
    assert store.scalar(store.table("deals").count()) == 0
    assert any("100 rows are changes of properties" in n for n in result.notices)
    assert any("2 rows are deleted stages" in n for n in result.notices)
