"""Salesforce: data exports and Bulk API files, warehouse syncs, and hand-made report exports.

Three shapes of the same objects are read:

* the Data Export / Bulk API CSVs (API names such as ``StageName``, 18-character ids,
  0/1 booleans, custom ``__c`` fields), one file per object: Opportunity,
  OpportunityHistory, OpportunityFieldHistory, Account, User, Task/Event,
  OpportunityContactRole and ForecastingQuota;
* the same objects as a warehouse sync writes them (snake_case columns such as
  ``stage_name``; Fivetran's history mode gives one row per version of a record);
* report exports people make by hand: labels instead of API names ("Opportunity Name",
  "Close Date"), ``MM/DD/YYYY`` dates, ``hh:mm AM/PM`` times, TRUE/FALSE and extra columns.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.sources.batch import (
    ImportBatch,
    Notice,
    append,
    finish_rows,
    is_sorted,
    keep,
    skipped_rows,
)
from quarterdeck.sources.crm import (
    FORECAST_CATEGORY_NAMES,
    close_before_create,
    custom_json,
    latest_time,
    motion_of,
    role_of,
    row_index,
    size_band,
)
from quarterdeck.sources.formats import Format, ReadOptions, register
from quarterdeck.sources.reading import CsvFile
from quarterdeck.sources.values import Cells

__all__ = ["REPORT_LABELS"]

PIPELINE = "default"

REPORT_LABELS = {
    "Opportunity ID": "Id",
    "Opportunity Name": "Name",
    "Account ID": "AccountId",
    "Account Name": "AccountName",
    "Stage": "StageName",
    "Amount": "Amount",
    "Close Date": "CloseDate",
    "Created Date": "CreatedDate",
    "Opportunity Owner": "OwnerName",
    "Owner ID": "OwnerId",
    "Type": "Type",
    "Lead Source": "LeadSource",
    "Probability (%)": "Probability",
    "Forecast Category": "ForecastCategoryName",
    "Won": "IsWon",
    "Closed": "IsClosed",
    "Last Modified Date": "LastModifiedDate",
    "Opportunity Currency": "CurrencyIsoCode",
    "Currency": "CurrencyIsoCode",
    "Loss Reason": "Loss_Reason__c",
    "Product": "Product__c",
}
"""Salesforce report column labels and the API fields they show."""

_STANDARD_STAGES = {
    "Prospecting": (1, 0.10, "pipeline"),
    "Qualification": (2, 0.20, "pipeline"),
    "Needs Analysis": (3, 0.30, "pipeline"),
    "Value Proposition": (4, 0.50, "best_case"),
    "Id. Decision Makers": (5, 0.60, "best_case"),
    "Perception Analysis": (6, 0.70, "best_case"),
    "Proposal/Price Quote": (7, 0.75, "commit"),
    "Negotiation/Review": (8, 0.90, "commit"),
    "Closed Won": (9, 1.0, "closed"),
    "Closed Lost": (10, 0.0, "omitted"),
}
"""Salesforce's default opportunity stages: order, probability and forecast category."""

_KNOWN_FIELDS = {
    "Id", "IsDeleted", "AccountId", "Name", "StageName", "Amount", "Probability", "CloseDate",
    "Type", "LeadSource", "IsClosed", "IsWon", "ForecastCategory", "ForecastCategoryName",
    "OwnerId", "CreatedDate", "CurrencyIsoCode", "Loss_Reason__c", "Product__c",
}  # fmt: skip


def _api_name(column: str) -> str:
    """API name of a warehouse (snake_case) column: ``stage_name`` -> ``StageName``."""
    if column.startswith("_fivetran") or not re.fullmatch(r"[a-z0-9_]+", column):
        return column
    if column.endswith("__c"):
        return column
    return "".join(part.capitalize() for part in column.split("_"))


def _normalise(file: CsvFile) -> CsvFile:
    """Rename warehouse and report columns to API names, in place."""
    names = []
    for column in file.header:
        if column in REPORT_LABELS:
            names.append(REPORT_LABELS[column])
        else:
            names.append(_api_name(column))
    if len(set(names)) == len(names) and names != list(file.header):
        file.rename(names)
    return file


def _role(header: tuple[str, ...], name: str) -> str | None:
    cols = {_api_name(REPORT_LABELS.get(c, c)) for c in header}
    if {"OpportunityId", "Field", "NewValue"} <= cols:
        return "field_history"
    if {"OpportunityId", "StageName", "CreatedDate"} <= cols:
        return "history"
    if {"Id", "StageName", "_fivetran_start"} <= cols:
        return "history"  # a warehouse table in history mode: one row per version
    if {"StageName", "CloseDate"} <= cols and ("Id" in cols or "Name" in cols):
        return "report" if "Opportunity Name" in header or "Stage" in header else "opportunity"
    if {"OpportunityId", "ContactId"} <= cols:
        return "contact_role"
    if {"QuotaOwnerId", "QuotaAmount", "StartDate"} <= cols:
        return "quota"
    if {"Id", "WhatId"} <= cols:
        return "activity"
    if {"Id", "Name"} <= cols and cols & {
        "BillingCity",
        "BillingCountry",
        "Industry",
        "AccountNumber",
        "Segment__c",
    }:
        return "account"
    if "Id" in cols and cols & {"Email", "Username"} and cols & {"LastName", "Name"}:
        return "user"
    return None


_COLUMNS_USED = {
    "history": {
        "Id", "OpportunityId", "CreatedDate", "StageName", "Amount", "CloseDate", "Probability",
        "ForecastCategory", "ForecastCategoryName", "OwnerId", "IsDeleted", "_fivetran_start",
    },
    "field_history": {"OpportunityId", "CreatedDate", "Field", "OldValue", "NewValue"},
    "activity": {
        "Id", "WhatId", "AccountId", "OwnerId", "Type", "TaskSubtype", "EventSubtype",
        "Direction__c", "CompletedDateTime", "ActivityDateTime", "ActivityDate", "CreatedDate",
        "IsDeleted",
    },
    "contact_role": {"Id", "OpportunityId", "ContactId", "CreatedDate", "IsDeleted"},
    "quota": {"QuotaOwnerId", "StartDate", "QuotaAmount", "IsDeleted"},
}  # fmt: skip
"""Columns each kind of file is read for (the rest is not loaded); opportunities, accounts
and users keep every column, since their custom fields are stored."""


def _read(files: Mapping[str, list[CsvFile]], options: ReadOptions) -> ImportBatch:
    """Read every file, one at a time; each file's text is released once it is parsed."""
    all_files = [_normalise(f) for group in files.values() for f in group]
    for role, used in _COLUMNS_USED.items():
        for file in files.get(role, []):
            file.only(used)
    batch = ImportBatch("salesforce", all_files)
    times: list[datetime | None] = []
    opportunity_ids: pa.Array | None = None
    # Opportunities whose row was rejected, and where: their history then says why it fails.
    rejected_ids: dict[str, str] = {}
    for file in files.get("user", []):
        batch.users = append(batch.users, _users(file, batch))
        file.release()

    def plain(name: str, table: pa.Table) -> None:
        # Written at once when the importer allows it, so the biggest files (activities)
        # are out of memory before the history is read.
        if options.write is not None:
            options.write(name, table)
        else:
            setattr(batch, name, append(getattr(batch, name), table))

    activities = None  # one write for all activity files: a second would be an upsert
    for file in files.get("activity", []):
        activities = append(activities, _activities(file, batch))
        file.release()
    for file in files.get("contact_role", []):
        activities = append(activities, _contact_roles(file, batch))
        file.release()
    if activities is not None:
        plain("activities", activities)
        del activities
    for file in files.get("account", []):
        plain("accounts", _accounts(file, batch))
        file.release()
    for role in ("opportunity", "report"):
        for file in files.get(role, []):
            deals, stages, stamp = _opportunities(
                file, batch, report=role == "report", options=options, rejected_ids=rejected_ids
            )
            file.release()
            batch.deals = append(batch.deals, deals)
            batch.stages = append(batch.stages, stages)
            times.append(latest_time(stamp))
    if batch.deals is not None or rejected_ids:
        opportunity_ids = (
            batch.deals.column("deal_id").combine_chunks()
            if batch.deals is not None
            else pa.array([], pa.string())
        )
        batch.stages = _dedupe_stages(batch.stages)
    for file in files.get("history", []):
        history, stamp = _history(file, batch, opportunity_ids, rejected_ids)
        file.release()
        batch.history = append(batch.history, history)
        times.append(latest_time(stamp))
    for file in files.get("field_history", []):
        batch.field_events = append(
            batch.field_events, _field_history(file, batch, opportunity_ids, rejected_ids)
        )
        file.release()
    for file in files.get("quota", []):
        batch.targets = append(batch.targets, _quotas(file, batch, batch.users))
        file.release()
    found = [t for t in times if t is not None]
    batch.as_of = max(found) if found else None
    return batch


def _id(cells: Cells, column: str, *, required: bool = False) -> pa.Array:
    """A record id; Salesforce writes the null id 000000000000000AAA for 'none'."""
    values = cells.text(column, required=required)
    null_id = pc.is_in(values, value_set=pa.array(["000000000000000", "000000000000000AAA"]))
    return pc.if_else(null_id, pa.scalar(None, pa.string()), values)


def _deleted(cells: Cells, batch: ImportBatch) -> np.ndarray:
    """Records Salesforce marks as deleted (IsDeleted, or is_deleted in a warehouse)."""
    return skipped_rows(cells, batch, "IsDeleted", "are deleted records; skipped")


def _probability(cells: Cells, column: str) -> pa.Array:
    if not cells.has(column):
        return pa.nulls(cells.rows, pa.float64())
    return pc.divide(cells.number(column, low=0, high=100), 100.0)


def _category(cells: Cells, *columns: str) -> pa.Array:
    for column in columns:
        if cells.has(column):
            return cells.choice(column, FORECAST_CATEGORY_NAMES, what="forecast category")
    return pa.nulls(cells.rows, pa.string())


def _opportunities(
    file: CsvFile,
    batch: ImportBatch,
    *,
    report: bool,
    options: ReadOptions,
    rejected_ids: dict[str, str],
) -> tuple[pa.Table, pa.Table, pa.Array]:
    cells = Cells(file, date_order=options.date_order or "MDY")
    n = cells.rows
    if cells.has("Id"):
        deal_id = _id(cells, "Id", required=True)
    else:
        # A report without the id column: name the deal by account and name, and say so.
        account = (
            cells.text("AccountName") if cells.has("AccountName") else pa.nulls(n, pa.string())
        )
        deal_id = pc.binary_join_element_wise(
            pc.fill_null(account, ""), cells.text("Name", required=True), " / "
        )
        batch.notices.append(
            Notice(
                file.name,
                None,
                n,
                "have no Opportunity ID column; deals are matched by account and name",
            )
        )
    stage = cells.text("StageName", required=True)
    is_won = cells.boolean("IsWon") if cells.has("IsWon") else None
    is_closed = cells.boolean("IsClosed") if cells.has("IsClosed") else None
    if is_won is None or is_closed is None:
        is_won, is_closed = _closed_from_stage(cells, stage, is_won, is_closed)
    is_closed = pc.or_(pc.fill_null(is_closed, False), pc.fill_null(is_won, False))
    created = (
        cells.timestamp("CreatedDate", required=not report)
        if cells.has("CreatedDate")
        else pa.nulls(n, pa.timestamp("s"))
    )
    close = cells.date("CloseDate", required=True)
    owner = (
        _id(cells, "OwnerId")
        if cells.has("OwnerId")
        else cells.text("OwnerName")
        if cells.has("OwnerName")
        else pa.nulls(n, pa.string())
    )
    account_id = (
        _id(cells, "AccountId")
        if cells.has("AccountId")
        else cells.text("AccountName")
        if cells.has("AccountName")
        else pa.nulls(n, pa.string())
    )
    kind = cells.text("Type") if cells.has("Type") else pa.nulls(n, pa.string())
    motion = motion_of(kind)
    unmapped = pc.and_(pc.is_valid(kind), pc.is_null(motion))
    if pc.any(unmapped).as_py():
        shown = sorted(set(pc.filter(kind, unmapped).to_pylist()))[:5]
        batch.notices.append(
            Notice(
                file.name,
                "Type",
                pc.sum(unmapped).as_py(),
                f"have a Type that names no motion ({', '.join(map(repr, shown))}); motion left empty",
            )
        )
    custom_columns = [c for c in file.header if c.endswith("__c") and c not in _KNOWN_FIELDS]
    stamps = [cells.timestamp(c) for c in ("SystemModstamp", "LastModifiedDate") if cells.has(c)]
    columns = {
        "deal_id": deal_id,
        "account_id": account_id,
        "owner_id": owner,
        "name": cells.text("Name") if cells.has("Name") else pa.nulls(n, pa.string()),
        "motion": motion,
        "amount": cells.amount("Amount")
        if cells.has("Amount")
        else pa.nulls(n, pa.decimal128(18, 2)),
        "currency": cells.text("CurrencyIsoCode")
        if cells.has("CurrencyIsoCode")
        else pa.nulls(n, pa.string()),
        "stage": stage,
        "forecast_category": _category(cells, "ForecastCategory", "ForecastCategoryName"),
        "probability": _probability(cells, "Probability"),
        "created_at": created,
        "close_date": close,
        "is_closed": is_closed,
        "is_won": pc.fill_null(is_won, False),
        "loss_reason": cells.text("Loss_Reason__c")
        if cells.has("Loss_Reason__c")
        else pa.nulls(n, pa.string()),
        "source": cells.text("LeadSource") if cells.has("LeadSource") else pa.nulls(n, pa.string()),
        "product": cells.text("Product__c")
        if cells.has("Product__c")
        else pa.nulls(n, pa.string()),
        "pipeline": pa.array([PIPELINE] * n, pa.string()),
        "custom": custom_json(cells, custom_columns),
    }
    if not report or cells.has("CreatedDate"):
        close_before_create(cells, close, created, batch.notices, "CloseDate")
    deals = finish_rows(
        cells,
        batch,
        columns,
        "deal_id",
        "opportunity Id",
        "Id" if cells.has("Id") else "Name",
        skip=_deleted(cells, batch),
    )
    lost = pc.invert(pc.is_in(deal_id, value_set=deals.column("deal_id").combine_chunks()))
    for row in np.flatnonzero(pc.fill_null(lost, False).to_numpy(zero_copy_only=False)):
        value = deal_id[int(row)].as_py()
        if value is not None:
            rejected_ids[value] = f"{file.name} line {file.line_of(int(row))}"
    if "Id" in file.header:
        # Records that did not even split into the header's columns still start with an id.
        position = file.header.index("Id")
        for bad in file.bad_rows:
            fields = next(csv.reader([bad.value or ""], delimiter=file.delimiter), [])
            if len(fields) > position and fields[position]:
                rejected_ids[fields[position]] = f"{file.name} line {bad.line}"
    if "SortOrder" in file.header or "StageSortOrder" in file.header:
        order_column = "StageSortOrder" if "StageSortOrder" in file.header else "SortOrder"
        order = pc.cast(pc.take(Cells(file).number(order_column), deals.column("_row")), pa.int64())
    else:
        order = pa.array(
            [_STANDARD_STAGES.get(s, (None,))[0] for s in deals.column("stage").to_pylist()],
            pa.int64(),
        )
    stages = pa.table(
        {
            "pipeline": deals.column("pipeline"),
            "stage": deals.column("stage"),
            "sort_order": order,
            "is_closed": deals.column("is_closed"),
            "is_won": deals.column("is_won"),
            "probability": deals.column("probability"),
            "forecast_category": deals.column("forecast_category"),
        }
    )
    stamp = pa.chunked_array([*stamps, created] if stamps else [created])
    return deals, stages, stamp


def _closed_from_stage(
    cells: Cells, stage: pa.Array, is_won: pa.Array | None, is_closed: pa.Array | None
) -> tuple[pa.Array, pa.Array]:
    """Won and closed from the stage name, when a report leaves out those columns."""
    low = pc.utf8_lower(pc.fill_null(stage, ""))
    won = pc.match_substring_regex(low, r"closed ?won|^won$")
    lost = pc.match_substring_regex(low, r"closed ?lost|^lost$|disqualified")
    known = pc.or_(pc.or_(won, lost), pc.is_in(stage, pa.array(list(_STANDARD_STAGES))))
    cells.flag(
        pc.and_(pc.invert(known), pc.not_equal(low, "")),
        "StageName",
        "is not a known stage; add the Won and Closed columns to the report so open and closed "
        "stages can be told apart",
    )
    return (is_won if is_won is not None else won), (
        is_closed if is_closed is not None else pc.or_(won, lost)
    )


def _dedupe_stages(stages: pa.Table | None) -> pa.Table | None:
    """One row per stage: the most common flags and probability of the deals in it."""
    if stages is None:
        return None
    seen: dict[tuple[str, str], dict[str, object]] = {}
    counts: dict[tuple[str, str], dict[tuple[object, ...], int]] = {}
    grouped = stages.group_by(
        [
            "pipeline",
            "stage",
            "sort_order",
            "is_closed",
            "is_won",
            "probability",
            "forecast_category",
        ],
        use_threads=False,
    ).aggregate([([], "count_all")])
    for row in grouped.to_pylist():
        key = (row["pipeline"], row["stage"])
        signature = (
            row["sort_order"],
            row["is_closed"],
            row["is_won"],
            row["probability"],
            row["forecast_category"],
        )
        counts.setdefault(key, {})[signature] = row["count_all"]
    for key, options in counts.items():
        best = max(options.items(), key=lambda kv: (kv[1], str(kv[0])))[0]
        seen[key] = dict(
            zip(
                ("sort_order", "is_closed", "is_won", "probability", "forecast_category"),
                best,
                strict=True,
            )
        )
    rows = [{"pipeline": p, "stage": s, **v} for (p, s), v in sorted(seen.items())]
    return pa.Table.from_pylist(rows, schema=stages.schema)


def _history(
    file: CsvFile,
    batch: ImportBatch,
    opportunity_ids: pa.Array | None,
    rejected_ids: dict[str, str],
) -> tuple[pa.Table, pa.Array]:
    cells = Cells(file)
    warehouse = "_fivetran_start" in file.header
    deal_id = _id(cells, "Id" if warehouse else "OpportunityId", required=True)
    at = cells.timestamp("_fivetran_start" if warehouse else "CreatedDate", required=True)
    columns: dict[str, pa.Array] = {
        "deal_id": deal_id,
        "at": at,
        "stage": cells.text("StageName", required=True),
        "amount": cells.amount("Amount") if cells.has("Amount") else None,
        "close_date": cells.date("CloseDate") if cells.has("CloseDate") else None,
        "probability": _probability(cells, "Probability") if cells.has("Probability") else None,
        "forecast_category": _category(cells, "ForecastCategory", "ForecastCategoryName")
        if cells.has("ForecastCategory") or cells.has("ForecastCategoryName")
        else None,
        "owner_id": _id(cells, "OwnerId") if cells.has("OwnerId") else None,
        "_tiebreak": cells.text("Id")
        if cells.has("Id") and not warehouse
        else pa.nulls(cells.rows, pa.string()),
    }
    columns = {k: v for k, v in columns.items() if v is not None}
    _unknown_deals(cells, deal_id, opportunity_ids, "OpportunityId", rejected_ids)
    table = pa.table({**columns, "_row": row_index(cells.rows)})
    rejected = cells.rejected()
    if cells.has("IsDeleted"):
        rejected = rejected | pc.fill_null(
            cells.boolean("IsDeleted", default=False), False
        ).to_numpy(zero_copy_only=False)
        rejected = rejected | cells.rejected()
    batch.rejects.extend(cells.rejects())
    table = keep(table, rejected)
    order = ["deal_id", "at", "_tiebreak", "_row"]
    if not is_sorted(table, order):  # exports are often in this order already
        table = table.sort_by([(name, "ascending") for name in order])
    table = table.append_column("_order", row_index(table.num_rows)).drop_columns(["_tiebreak"])
    return table, at


def _unknown_deals(
    cells: Cells, deal_id: pa.Array, known: pa.Array | None, column: str, rejected: dict[str, str]
) -> None:
    """Flag rows of opportunities the Opportunity file does not hold, or whose row in it was
    rejected (then the reason points at that row, the cause)."""
    if known is None:
        return
    missing = pc.and_(pc.invert(pc.is_in(deal_id, value_set=known)), pc.is_valid(deal_id))
    if rejected:
        of_rejected = pc.is_in(deal_id, value_set=pa.array(list(rejected), pa.string()))
        for row in np.flatnonzero(pc.and_(missing, of_rejected).to_numpy(zero_copy_only=False)):
            where = rejected[deal_id[int(row)].as_py()]
            mask = np.zeros(cells.rows, dtype=bool)
            mask[row] = True
            cells.flag(mask, column, f"belongs to an opportunity that was rejected ({where})")
        missing = pc.and_(missing, pc.invert(of_rejected))
    cells.flag(missing, column, "names an opportunity that is not in the Opportunity file")


_FIELD_NAMES = {
    "Owner": "owner_id",
    "StageName": "stage",
    "Amount": "amount",
    "CloseDate": "close_date",
    "ForecastCategoryName": "forecast_category",
    "Probability": "probability",
}


def _field_history(
    file: CsvFile,
    batch: ImportBatch,
    opportunity_ids: pa.Array | None,
    rejected_ids: dict[str, str],
) -> pa.Table:
    cells = Cells(file)
    deal_id = _id(cells, "OpportunityId", required=True)
    at = cells.timestamp("CreatedDate", required=True)
    field = cells.raw("Field")
    canonical = pc.take(
        pa.array(list(_FIELD_NAMES.values())),
        pc.index_in(field, value_set=pa.array(list(_FIELD_NAMES))),
    )
    old = cells.text("OldValue")
    new = cells.text("NewValue")
    # Salesforce logs an owner change twice: once with user ids, once with names. Keep the ids.
    is_owner = pc.equal(canonical, "owner_id")
    id_like = pc.match_substring_regex(
        pc.fill_null(new, ""), r"^005[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$"
    )
    useful = pc.and_(pc.is_valid(canonical), pc.or_(pc.invert(is_owner), id_like))
    _unknown_deals(cells, deal_id, opportunity_ids, "OpportunityId", rejected_ids)
    rejected = cells.rejected()
    batch.rejects.extend(cells.rejects())
    mask = pc.and_(useful, pa.array(~rejected))
    table = pa.table(
        {"deal_id": deal_id, "at": at, "field": canonical, "old_value": old, "new_value": new}
    )
    table = table.filter(mask)
    for name, target in (("forecast_category", FORECAST_CATEGORY_NAMES),):
        rows = pc.equal(table.column("field"), name)
        if pc.any(rows).as_py():
            mapped = [
                target.get((v or "").lower(), v) for v in table.column("new_value").to_pylist()
            ]
            mapped_old = [
                target.get((v or "").lower(), v) for v in table.column("old_value").to_pylist()
            ]
            table = table.set_column(
                3,
                "old_value",
                pc.if_else(rows, pa.array(mapped_old, pa.string()), table.column("old_value")),
            )
            table = table.set_column(
                4,
                "new_value",
                pc.if_else(rows, pa.array(mapped, pa.string()), table.column("new_value")),
            )
    prob = pc.equal(table.column("field"), "probability")
    if pc.any(prob).as_py():
        scaled = pc.cast(
            pc.divide(pc.cast(table.column("new_value"), pa.float64(), safe=False), 100.0),
            pa.string(),
        )
        table = table.set_column(
            4, "new_value", pc.if_else(prob, scaled, table.column("new_value"))
        )
    return table


def _accounts(file: CsvFile, batch: ImportBatch) -> pa.Table:
    cells = Cells(file)
    n = cells.rows
    employees = (
        cells.number("NumberOfEmployees", low=0)
        if cells.has("NumberOfEmployees")
        else pa.nulls(n, pa.float64())
    )
    band = size_band(employees)
    segment = cells.text("Segment__c") if cells.has("Segment__c") else band
    region = None
    for column in ("Region__c", "BillingCountry", "BillingState"):
        if cells.has(column):
            values = cells.text(column)
            region = values if region is None else pc.coalesce(region, values)
    custom_columns = [
        c for c in file.header if c.endswith("__c") and c not in ("Segment__c", "Region__c")
    ]
    columns = {
        "account_id": _id(cells, "Id", required=True),
        "name": cells.text("Name"),
        "segment": segment,
        "industry": cells.text("Industry") if cells.has("Industry") else pa.nulls(n, pa.string()),
        "region": region if region is not None else pa.nulls(n, pa.string()),
        "size_band": band,
        "created_at": cells.timestamp("CreatedDate")
        if cells.has("CreatedDate")
        else pa.nulls(n, pa.timestamp("s")),
        "custom": custom_json(cells, custom_columns),
    }
    return finish_rows(
        cells, batch, columns, "account_id", "account Id", skip=_deleted(cells, batch)
    )


def _users(file: CsvFile, batch: ImportBatch) -> pa.Table:
    cells = Cells(file)
    n = cells.rows
    if cells.has("Name"):
        name = cells.text("Name")
    else:
        first = cells.text("FirstName") if cells.has("FirstName") else pa.nulls(n, pa.string())
        name = pc.utf8_trim_whitespace(
            pc.binary_join_element_wise(pc.fill_null(first, ""), cells.text("LastName"), " ")
        )
    title = cells.text("Title") if cells.has("Title") else pa.nulls(n, pa.string())
    hire = cells.date("Hire_Date__c") if cells.has("Hire_Date__c") else None
    created = cells.date("CreatedDate") if cells.has("CreatedDate") else pa.nulls(n, pa.date32())
    end = cells.date("End_Date__c") if cells.has("End_Date__c") else pa.nulls(n, pa.date32())
    if cells.has("IsActive") and cells.has("LastModifiedDate"):
        inactive = pc.invert(pc.fill_null(cells.boolean("IsActive", default=True), True))
        end = pc.if_else(pc.and_(inactive, pc.is_null(end)), cells.date("LastModifiedDate"), end)
    custom_columns = [
        c for c in file.header if c.endswith("__c") and c not in ("Hire_Date__c", "End_Date__c")
    ]
    columns = {
        "user_id": _id(cells, "Id", required=True),
        "name": name,
        "email": cells.text("Email") if cells.has("Email") else pa.nulls(n, pa.string()),
        "role": role_of(title),
        "team": cells.text("Department") if cells.has("Department") else pa.nulls(n, pa.string()),
        "manager_id": _id(cells, "ManagerId")
        if cells.has("ManagerId")
        else pa.nulls(n, pa.string()),
        "hire_date": hire if hire is not None else created,
        "end_date": end,
        "custom": custom_json(cells, custom_columns),
    }
    return finish_rows(cells, batch, columns, "user_id", "user Id", skip=_deleted(cells, batch))


_ACTIVITY_KINDS = {
    "call": "call",
    "email": "email",
    "meeting": "meeting",
    "demo": "demo",
    "content view": "content_view",
    "email reply": "reply",
    "reply": "reply",
    "other": "other",
    "task": "other",
    "listemail": "email",
    "cadence": "other",
}
_INBOUND = ("reply", "content_view")


def _activities(file: CsvFile, batch: ImportBatch) -> pa.Table:
    cells = Cells(file)
    n = cells.rows
    what = _id(cells, "WhatId")
    kind_column = next((c for c in ("Type", "TaskSubtype", "EventSubtype") if cells.has(c)), None)
    kind = (
        cells.choice(kind_column, _ACTIVITY_KINDS, what="activity type")
        if kind_column
        else pa.array(["other"] * n)
    )
    kind = pc.fill_null(kind, "other")
    if cells.has("Direction__c"):
        direction = pc.utf8_lower(cells.text("Direction__c"))
    else:
        direction = pc.if_else(pc.is_in(kind, pa.array(_INBOUND)), "inbound", "outbound")
    when = None
    for column in ("CompletedDateTime", "ActivityDateTime", "ActivityDate", "CreatedDate"):
        if cells.has(column):
            values = cells.timestamp(column)
            when = values if when is None else pc.coalesce(when, values)
    columns = {
        "activity_id": _id(cells, "Id", required=True),
        "deal_id": pc.if_else(
            pc.starts_with(pc.fill_null(what, ""), "006"), what, pa.scalar(None, pa.string())
        ),
        "account_id": _id(cells, "AccountId")
        if cells.has("AccountId")
        else pa.nulls(n, pa.string()),
        "at": when if when is not None else pa.nulls(n, pa.timestamp("s")),
        "kind": kind,
        "direction": direction,
        "who": _id(cells, "OwnerId") if cells.has("OwnerId") else pa.nulls(n, pa.string()),
    }
    return finish_rows(
        cells, batch, columns, "activity_id", "activity Id", skip=_deleted(cells, batch)
    )


def _contact_roles(file: CsvFile, batch: ImportBatch) -> pa.Table:
    cells = Cells(file)
    n = cells.rows
    columns = {
        "activity_id": _id(cells, "Id", required=True),
        "deal_id": _id(cells, "OpportunityId", required=True),
        "account_id": pa.nulls(n, pa.string()),
        "at": cells.timestamp("CreatedDate")
        if cells.has("CreatedDate")
        else pa.nulls(n, pa.timestamp("s")),
        "kind": pa.array(["contact_role"] * n, pa.string()),
        "direction": pa.nulls(n, pa.string()),
        "who": _id(cells, "ContactId", required=True),
    }
    return finish_rows(
        cells, batch, columns, "activity_id", "contact role Id", skip=_deleted(cells, batch)
    )


def _quotas(file: CsvFile, batch: ImportBatch, users: pa.Table | None) -> pa.Table:
    """Quotas are quarterly; the sales leader's (or CEO's) quota is the company target."""
    cells = Cells(file)
    owner = _id(cells, "QuotaOwnerId", required=True)
    start = cells.date("StartDate", required=True)
    amount = cells.amount("QuotaAmount", required=True)
    roles: dict[str, tuple[str, str | None]] = {}
    if users is not None:
        for row in users.select(["user_id", "role", "team"]).to_pylist():
            roles[row["user_id"]] = (row["role"], row["team"])
    scope, scope_id = [], []
    for user in owner.to_pylist():
        role, team = roles.get(user or "", ("rep", None))
        if role in ("leader", "ceo"):
            scope.append("company")
            scope_id.append("")
        elif role == "manager" and team:
            scope.append("team")
            scope_id.append(team)
        else:
            scope.append("rep")
            scope_id.append(user or "")
    starts = start.to_numpy(zero_copy_only=False).astype("datetime64[M]")
    ends = (starts + np.timedelta64(3, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")
    columns = {
        "period_start": start,
        "period_end": pa.array(ends, pa.date32()) if len(ends) else pa.array([], pa.date32()),
        "scope": pa.array(scope, pa.string()),
        "scope_id": pa.array(scope_id, pa.string()),
        "amount": amount,
        "_key": pc.binary_join_element_wise(
            pc.cast(start, pa.string()), pa.array(scope), pa.array(scope_id), "|"
        ),
    }
    table = finish_rows(
        cells,
        batch,
        columns,
        "_key",
        "quota (start, owner)",
        column=None,
        skip=_deleted(cells, batch),
    )
    return table.drop_columns(["_key"])


register(
    Format(
        name="salesforce",
        description="Salesforce data export, warehouse sync or report",
        role=_role,
        read=_read,
        expects="Opportunity (Id, StageName, CloseDate...), OpportunityHistory, Account, User, "
        "or a report with Opportunity Name, Stage, Close Date",
        main_roles=("opportunity", "report", "history", "field_history", "account", "user"),
        files={
            "opportunity": ("Id", "StageName", "CloseDate"),
            "opportunityhistory": ("OpportunityId", "StageName", "CreatedDate"),
            "opportunityfieldhistory": ("OpportunityId", "Field", "NewValue"),
            "account": ("Id", "Name"),
            "user": ("Id", "Email"),
            "task": ("Id", "WhatId"),
            "event": ("Id", "WhatId"),
            "forecastingquota": ("QuotaOwnerId", "QuotaAmount", "StartDate"),
            "opportunitycontactrole": ("OpportunityId", "ContactId"),
        },
    )
)
