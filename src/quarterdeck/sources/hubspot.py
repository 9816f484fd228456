"""HubSpot: deal exports from the web UI, and the tables a Fivetran warehouse sync writes.

Two shapes of the same deals are read:

* the web UI's deals export: labels as column names ("Record ID", "Deal Name", "Deal
  Stage", "Close Date", "Deal owner"...), stage and pipeline labels, the owner's name,
  dates as ``2024-03-15 14:02``, ``2024-03-15`` or ``03/15/2024``, and any number of
  extra properties (kept as custom JSON);
* the Fivetran tables: ``deal`` (``property_*`` columns, stage and pipeline ids),
  ``deal_stage`` (every stage a deal entered, with ``date_entered``),
  ``deal_property_history`` (every change of every property), ``deal_pipeline_stage``
  (labels, order, won and closed flags), ``deal_pipeline`` and ``owner``.

Pipelines are custom in HubSpot, so any stage name is accepted. Whether a stage is won or
closed comes from a pipeline-stage file when one is given, and otherwise from its name
("Closed Won", "Closed Lost", or the default pipeline's ids ``closedwon``/``closedlost``);
every other stage is open. A deal with neither a stage nor a pipeline is rejected. Stage
and pipeline ids are shown as their labels whenever the files that name them are present.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.model import TRACKED_ARROW_TYPES
from quarterdeck.sources.batch import (
    ImportBatch,
    Notice,
    append,
    drop_duplicates,
    finish_rows,
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
)
from quarterdeck.sources.formats import Format, ReadOptions, register
from quarterdeck.sources.reading import CsvFile
from quarterdeck.sources.values import Cells

__all__ = ["UI_LABELS"]

DEFAULT_PIPELINE = "default"

UI_LABELS = {
    "record id": "deal_id",
    "deal id": "deal_id",
    "deal name": "name",
    "deal stage": "stage",
    "pipeline": "pipeline",
    "close date": "close_date",
    "create date": "created_at",
    "deal owner": "owner",
    "amount": "amount",
    "deal type": "type",
    "last modified date": "modified",
    "associated company": "company",
    "associated company ids": "company_ids",
    "associated company ids (primary)": "company_ids",
    "forecast category": "forecast_category",
    "deal probability": "probability",
    "closed lost reason": "loss_reason",
    "currency": "currency",
    "deal currency code": "currency",
    "original source type": "source",
    "is closed won": "is_won",
    "is deal closed?": "is_closed",
}
"""Column labels of the web UI's deals export (case and spacing ignored) and what they hold."""

_WAREHOUSE = {
    "deal_id": "deal_id",
    "deal_pipeline_id": "pipeline",
    "deal_pipeline_stage_id": "stage",
    "owner_id": "owner",
    "property_dealname": "name",
    "property_amount": "amount",
    "property_closedate": "close_date",
    "property_createdate": "created_at",
    "property_dealtype": "type",
    "property_hs_lastmodifieddate": "modified",
    "property_hs_forecast_category": "forecast_category",
    "property_hs_deal_stage_probability": "probability",
    "property_closed_lost_reason": "loss_reason",
    "property_deal_currency_code": "currency",
    "property_hs_analytics_source": "source",
    "property_hs_is_closed_won": "is_won",
    "property_hs_is_closed": "is_closed",
    # Older syncs, or syncs without the deal_* columns, keep these as plain properties.
    "property_dealstage": "stage",
    "property_pipeline": "pipeline",
    "property_hubspot_owner_id": "owner",
}
"""Columns of Fivetran's ``deal`` table and what they hold."""

_NOT_CUSTOM = {"is_deleted", "portal_id", "property_description", "_fivetran_synced"}

PROPERTY_FIELDS = {
    "dealstage": "stage",
    "amount": "amount",
    "closedate": "close_date",
    "hubspot_owner_id": "owner_id",
    "hs_forecast_category": "forecast_category",
    "hs_deal_stage_probability": "probability",
}
"""Deal properties whose history becomes deal events; other properties are not tracked."""

_CATEGORIES = {**FORECAST_CATEGORY_NAMES, "omit": "omitted", "closed_won": "closed"}
"""HubSpot writes forecast categories as OMIT, PIPELINE, BEST_CASE, COMMIT and CLOSED."""

_WON = r"closed ?won|^won$"
_LOST = r"closed ?lost|^lost$"


def _key(column: str) -> str:
    return " ".join(column.strip().lower().split())


def _role(header: tuple[str, ...], name: str) -> str | None:
    cols = set(header)
    keys = {_key(c) for c in header}
    if {"deal_id", "date_entered", "value"} <= cols:
        return "deal_stage"
    if {"deal_id", "timestamp", "name", "value"} <= cols:
        return "property_history"
    if "deal_id" in cols and cols & {"property_dealname", "deal_pipeline_stage_id"}:
        return "deal"
    if {"stage_id", "label", "pipeline_id"} <= {k.replace(" ", "_") for k in keys}:
        return "pipeline_stage"
    if {"pipeline_id", "label"} <= cols:
        return "pipeline"
    if {"owner_id", "email"} <= cols and cols & {"first_name", "last_name"}:
        return "owner"
    if "deal stage" in keys and keys & {"record id", "deal id"}:
        return "deals"
    return None


# -- stages ---------------------------------------------------------------------------------


@dataclass
class _Stage:
    pipeline: str
    label: str
    order: int | None
    is_closed: bool
    is_won: bool
    probability: float | None


@dataclass
class _StageBook:
    """What the pipeline-stage and pipeline files say: labels, order and flags of stages."""

    by_id: dict[str, _Stage] = field(default_factory=dict)
    pipelines: dict[str, str] = field(default_factory=dict)

    def pipeline_name(self, pipeline_id: str | None) -> str | None:
        if pipeline_id is None:
            return None
        return self.pipelines.get(pipeline_id, pipeline_id)

    def label(self, stage_id: str | None) -> str | None:
        if stage_id is None:
            return None
        found = self.by_id.get(stage_id)
        return found.label if found else stage_id

    def by_label(self) -> tuple[dict[tuple[str, str], _Stage], dict[str, _Stage]]:
        """Stages by (pipeline, label), and by label alone where every pipeline agrees."""
        exact = {(s.pipeline, s.label): s for s in self.by_id.values()}
        loose: dict[str, list[_Stage]] = {}
        for stage in self.by_id.values():
            loose.setdefault(stage.label.lower(), []).append(stage)
        agreed = {
            label: stages[0]
            for label, stages in loose.items()
            if len({(s.is_closed, s.is_won) for s in stages}) == 1
        }
        return exact, agreed


def _pipelines(file: CsvFile, batch: ImportBatch) -> dict[str, str]:
    cells = Cells(file)
    ids = cells.text("pipeline_id", required=True)
    labels = cells.text("label")
    rejected = cells.rejected()
    batch.rejects.extend(cells.rejects())
    out = {}
    for row, (pid, label) in enumerate(zip(ids.to_pylist(), labels.to_pylist(), strict=True)):
        if not rejected[row]:
            out[pid] = label or pid
    return out


def _stage_book(files: Mapping[str, list[CsvFile]], batch: ImportBatch) -> _StageBook | None:
    if "pipeline_stage" not in files:
        return None
    book = _StageBook()
    for file in files.get("pipeline", []):
        book.pipelines.update(_pipelines(file, batch))
    for file in files["pipeline_stage"]:
        renamed = [_key(c).replace(" ", "_") for c in file.header]
        if len(set(renamed)) == len(renamed):
            file.rename(renamed)
        cells = Cells(file)
        n = cells.rows
        stage_id = cells.text("stage_id", required=True)
        label = cells.text("label", required=True)
        pipeline = cells.text("pipeline_id", required=True)
        won = cells.boolean("closed_won", default=False) if cells.has("closed_won") else None
        closed = cells.boolean("is_closed") if cells.has("is_closed") else None
        order = cells.number("display_order") if cells.has("display_order") else pa.nulls(n)
        probability = (
            cells.number("probability", low=0, high=1)
            if cells.has("probability")
            else pa.nulls(n, pa.float64())
        )
        deleted = skipped_rows(cells, batch, "_fivetran_deleted", "are deleted stages; skipped")
        rejected = cells.rejected()
        batch.rejects.extend(cells.rejects())
        labels = label.to_pylist()
        for row, sid in enumerate(stage_id.to_pylist()):
            if rejected[row] or deleted[row]:
                continue
            text = labels[row] or sid
            is_won = (
                bool(won[row].as_py()) if won is not None else bool(re.search(_WON, sid.lower()))
            )
            is_closed = closed[row].as_py() if closed is not None else None
            if is_closed is None:
                is_closed = is_won or bool(re.search(_LOST, (sid + " " + text).lower()))
            place = order[row].as_py()
            book.by_id[sid] = _Stage(
                book.pipeline_name(pipeline[row].as_py()) or DEFAULT_PIPELINE,
                text,
                int(place) if place is not None else None,
                bool(is_closed) or is_won,
                is_won,
                probability[row].as_py(),
            )
    return book


def _flags_from_name(stage: list[str | None]) -> tuple[list[bool], list[bool]]:
    won = [bool(s and re.search(_WON, s.lower())) for s in stage]
    lost = [bool(s and re.search(_LOST, s.lower())) for s in stage]
    return [w or lo for w, lo in zip(won, lost, strict=True)], won


# -- deals ----------------------------------------------------------------------------------


def _columns(file: CsvFile, labels: Mapping[str, str], *, ui: bool) -> dict[str, str]:
    """What each column holds: {'stage': 'Deal Stage', ...} (first matching column wins)."""
    found: dict[str, str] = {}
    for column in file.header:
        what = labels.get(_key(column) if ui else column)
        if what and what not in found:
            found[what] = column
    return found


def _probability(cells: Cells, column: str) -> pa.Array:
    """0 to 1; HubSpot exports 0.2, people type 20 or 20%: a value above 1 is a percentage."""
    number = cells.number(column, low=0, high=100)
    percent = pc.or_(
        pc.match_substring(cells.raw(column), "%"), pc.greater(pc.fill_null(number, 0), 1)
    )
    return pc.if_else(percent, pc.divide(number, 100.0), number)


def _deals(
    file: CsvFile,
    batch: ImportBatch,
    options: ReadOptions,
    book: _StageBook | None,
    current_stage: dict[str, str],
    *,
    ui: bool,
) -> tuple[pa.Table, list[dict[str, object]], list[pa.Array]]:
    cols = _columns(file, UI_LABELS if ui else _WAREHOUSE, ui=ui)
    cells = Cells(file, date_order=options.date_order or "MDY")
    n = cells.rows
    none = pa.nulls(n, pa.string())

    def text(what: str, **kw: bool) -> pa.Array:
        return cells.text(cols[what], **kw) if what in cols else none

    deal_id = text("deal_id", required=True)
    stage_raw = text("stage").to_pylist()
    pipeline_raw = text("pipeline").to_pylist()
    ids = deal_id.to_pylist()
    # A deal row without a stage takes its stage from the stage history, where there is one.
    stage_raw = [
        s if s is not None else current_stage.get(i or "")
        for s, i in zip(stage_raw, ids, strict=True)
    ]
    cells.flag(
        np.array([s is None and p is None for s, p in zip(stage_raw, pipeline_raw, strict=True)]),
        cols.get("stage", cols.get("pipeline", cols["deal_id"])),
        "has neither a stage nor a pipeline, so it cannot be placed in a sales process",
    )
    exact: dict[tuple[str, str], _Stage] = {}
    agreed: dict[str, _Stage] = {}
    if book is not None:
        exact, agreed = book.by_label()
    stages: list[str | None] = []
    pipelines: list[str] = []
    found: list[_Stage | None] = []
    for stage, pipeline in zip(stage_raw, pipeline_raw, strict=True):
        known = book.by_id.get(stage or "") if (book is not None and not ui) else None
        if ui:
            name = pipeline or DEFAULT_PIPELINE
            known = exact.get((name, stage or "")) or agreed.get((stage or "").lower())
            pipelines.append(name)
            stages.append(stage)
        else:
            name = (book.pipeline_name(pipeline) if book else pipeline) or (
                known.pipeline if known else DEFAULT_PIPELINE
            )
            pipelines.append(name)
            stages.append(known.label if known else stage)
        found.append(known)
    is_closed, is_won = _flags_from_name(stages)
    for row, known in enumerate(found):
        if known is not None:
            is_closed[row], is_won[row] = known.is_closed, known.is_won
    if book is not None:
        unknown = sum(1 for s, k in zip(stages, found, strict=True) if s is not None and k is None)
        if unknown:
            batch.notices.append(
                Notice(
                    file.name,
                    cols.get("stage"),
                    unknown,
                    "are in a stage the pipeline-stage file does not list; won and closed "
                    "follow the stage name",
                )
            )
    closed_arr = pa.array(is_closed, pa.bool_())
    won_arr = pa.array(is_won, pa.bool_())
    if "is_won" in cols:
        won_arr = pc.coalesce(cells.boolean(cols["is_won"]), won_arr)
    if "is_closed" in cols:
        closed_arr = pc.coalesce(cells.boolean(cols["is_closed"]), closed_arr)
    closed_arr = pc.or_(closed_arr, won_arr)
    no_stage = sum(1 for s, p in zip(stages, pipeline_raw, strict=True) if s is None and p)
    if no_stage:
        batch.notices.append(
            Notice(
                file.name, cols.get("stage"), no_stage, "have a pipeline but no stage; kept as open"
            )
        )

    created = (
        cells.timestamp(cols["created_at"])
        if "created_at" in cols
        else pa.nulls(n, pa.timestamp("s"))
    )
    close = cells.date(cols["close_date"]) if "close_date" in cols else pa.nulls(n, pa.date32())
    kind = text("type")
    motion = motion_of(kind)
    _report_unmapped(batch, file, cols.get("type"), kind, motion)
    account_id, account_table = _companies(cells, cols, batch)
    owner = text("owner")
    known_cols = set(cols.values())
    custom_columns = [
        c
        for c in file.header
        if c not in known_cols
        and c not in _NOT_CUSTOM
        and not c.startswith("_fivetran")
        and (ui or c.startswith("property_"))
    ]
    columns = {
        "deal_id": deal_id,
        "account_id": account_id,
        "owner_id": owner,
        "name": text("name"),
        "motion": motion,
        "amount": cells.amount(cols["amount"])
        if "amount" in cols
        else pa.nulls(n, pa.decimal128(18, 2)),
        "currency": text("currency"),
        "stage": pa.array(stages, pa.string()),
        "forecast_category": cells.choice(
            cols["forecast_category"], _CATEGORIES, what="forecast category"
        )
        if "forecast_category" in cols
        else none,
        "probability": _probability(cells, cols["probability"])
        if "probability" in cols
        else pa.nulls(n, pa.float64()),
        "created_at": created,
        "close_date": close,
        "is_closed": pc.fill_null(closed_arr, False),
        "is_won": pc.fill_null(won_arr, False),
        "loss_reason": text("loss_reason"),
        "source": text("source"),
        "pipeline": pa.array(pipelines, pa.string()),
        "custom": custom_json(cells, custom_columns),
    }
    # A field the export does not hold is left out, so the store keeps what it knows of it
    # (and the history does not record it as cleared).
    optional = {
        "account_id": ("company", "company_ids"),
        "owner_id": ("owner",),
        "name": ("name",),
        "motion": ("type",),
        "amount": ("amount",),
        "currency": ("currency",),
        "forecast_category": ("forecast_category",),
        "probability": ("probability",),
        "created_at": ("created_at",),
        "close_date": ("close_date",),
        "loss_reason": ("loss_reason",),
        "source": ("source",),
    }
    for name, sources in optional.items():
        if not any(what in cols for what in sources):
            del columns[name]
    if "created_at" in cols and "close_date" in cols:
        close_before_create(cells, close, created, batch.notices, cols["close_date"])
    deleted = skipped_rows(cells, batch, "is_deleted", "are deleted deals; skipped")
    table = finish_rows(cells, batch, columns, "deal_id", "deal id", column=None, skip=deleted)
    rejected = cells.rejected() | deleted
    derived = [
        {
            "pipeline": row["pipeline"],
            "stage": row["stage"],
            "is_closed": row["is_closed"],
            "is_won": row["is_won"],
        }
        for row in table.select(["pipeline", "stage", "is_closed", "is_won"]).to_pylist()
        if row["stage"] is not None
    ]
    if account_table is not None:
        batch.accounts = append(batch.accounts, keep(account_table, rejected))
    if ui and "owner" in cols:
        names = sorted({o for o in table.column("owner_id").to_pylist() if o})
        batch.users = append(batch.users, pa.table({"user_id": names, "name": names}))
    stamps = [cells.timestamp(cols["modified"])] if "modified" in cols else []
    if not stamps or (ui and pc.all(pc.is_null(stamps[0])).as_py()):
        stamps.append(created)
    if cells.has("_fivetran_synced"):
        stamps.append(cells.timestamp("_fivetran_synced"))
    return table, derived, stamps


def _report_unmapped(
    batch: ImportBatch, file: CsvFile, column: str | None, kind: pa.Array, motion: pa.Array
) -> None:
    unmapped = pc.and_(pc.is_valid(kind), pc.is_null(motion))
    if pc.any(unmapped).as_py():
        shown = sorted(set(pc.filter(kind, unmapped).to_pylist()))[:5]
        batch.notices.append(
            Notice(
                file.name,
                column,
                pc.sum(unmapped).as_py(),
                f"have a deal type that names no motion ({', '.join(map(repr, shown))}); "
                "motion left empty",
            )
        )


def _companies(
    cells: Cells, cols: dict[str, str], batch: ImportBatch
) -> tuple[pa.Array, pa.Table | None]:
    """The deal's company: its id where the export has one, else its name."""
    n = cells.rows
    names = cells.text(cols["company"]) if "company" in cols else pa.nulls(n, pa.string())
    if "company_ids" not in cols:
        if "company" not in cols:
            return names, None
        return names, pa.table({"account_id": names, "name": names}).filter(pc.is_valid(names))
    ids = cells.text(cols["company_ids"])
    several = pc.fill_null(pc.match_substring_regex(ids, r"[;,]"), False)
    if pc.any(several).as_py():
        rows = np.flatnonzero(several.to_numpy(zero_copy_only=False))
        batch.notices.append(
            Notice(
                cells.file.name,
                cols["company_ids"],
                len(rows),
                "are associated with several companies; the first is taken as the account",
                tuple(cells.file.line_of(int(r)) for r in rows[:5]),
            )
        )
    first = pc.utf8_trim_whitespace(pc.replace_substring_regex(ids, r"[;,].*$", ""))
    first_name = pc.utf8_trim_whitespace(pc.replace_substring_regex(names, r"[;,].*$", ""))
    accounts = pa.table({"account_id": first, "name": first_name}).filter(pc.is_valid(first))
    return first, accounts


# -- history --------------------------------------------------------------------------------


def _unknown(cells: Cells, deal_id: pa.Array, known: set[str] | None) -> None:
    if known is None:
        return
    missing = pc.invert(pc.is_in(deal_id, value_set=pa.array(sorted(known), pa.string())))
    cells.flag(
        pc.and_(missing, pc.is_valid(deal_id)),
        "deal_id",
        "names a deal that is not in the deal file",
    )


def _stage_history(
    file: CsvFile, batch: ImportBatch, book: _StageBook | None
) -> tuple[Cells, pa.Table, np.ndarray]:
    """deal_stage rows as wide history (deal_id, at, stage), ids turned into labels."""
    cells = Cells(file)
    deal_id = cells.text("deal_id", required=True)
    at = cells.timestamp("date_entered", required=True)
    value = cells.text("value", required=True)
    stage = pa.array([book.label(v) if book else v for v in value.to_pylist()], pa.string())
    skip = skipped_rows(
        cells,
        batch,
        "_fivetran_active",
        "are superseded versions of a stage entry; skipped",
        when=False,
    )
    table = pa.table({"deal_id": deal_id, "at": at, "stage": stage, "_row": row_index(cells.rows)})
    return cells, table, skip


def _finish_stage_history(
    parts: list[tuple[Cells, pa.Table, np.ndarray]], batch: ImportBatch
) -> list[pa.Table]:
    """Stage entries as change events (deal_id, at, field, value, _source, _row)."""
    out = []
    for source, (cells, table, skip) in enumerate(parts):
        batch.rejects.extend(cells.rejects())
        kept = keep(table, cells.rejected() | skip)
        out.append(
            pa.table(
                {
                    "deal_id": kept.column("deal_id"),
                    "at": kept.column("at"),
                    "field": pa.array(["stage"] * kept.num_rows, pa.string()),
                    "value": kept.column("stage"),
                    "_source": pa.array([source] * kept.num_rows, pa.int64()),
                    "_row": kept.column("_row"),
                }
            )
        )
    return out


def _wide_history(events: list[pa.Table]) -> pa.Table | None:
    """Change events as full snapshots: every tracked field as it stood after each change.

    A field with no change logged yet is empty in a snapshot (unknown, so no event is made
    of it); a field the CRM logged as cleared is empty too, and that is a change.
    """
    events = [e for e in events if e.num_rows]
    if not events:
        return None
    table = pa.concat_tables(events).sort_by(
        [
            ("deal_id", "ascending"),
            ("at", "ascending"),
            ("_source", "ascending"),
            ("_row", "ascending"),
        ]
    )
    fields = [f for f in TRACKED_ARROW_TYPES if f in set(table.column("field").to_pylist())]
    rows: list[dict[str, object]] = []
    state: dict[str, object] = {}
    last: tuple[object, object] | None = None
    for deal, at, name, value in zip(
        *(table.column(c).to_pylist() for c in ("deal_id", "at", "field", "value")), strict=True
    ):
        if last is None or last[0] != deal:
            state = dict.fromkeys(fields)
        if last == (deal, at):
            rows.pop()
        state[name] = value
        rows.append({"deal_id": deal, "at": at, **state})
        last = (deal, at)
    columns: dict[str, pa.Array] = {
        "deal_id": pa.array([r["deal_id"] for r in rows], pa.string()),
        "at": pa.array([r["at"] for r in rows], pa.timestamp("s")),
    }
    for name in fields:
        text = pa.array([r[name] for r in rows], pa.string())
        if name == "close_date":
            columns[name] = pc.cast(pc.cast(text, pa.timestamp("s")), pa.date32())
        elif name == "amount":
            columns[name] = pc.cast(pc.cast(text, pa.decimal128(38, 10)), TRACKED_ARROW_TYPES[name])
        else:
            columns[name] = pc.cast(text, TRACKED_ARROW_TYPES[name])
    columns["_order"] = row_index(len(rows))
    return pa.table(columns)


def _epoch_or_date(value: str | None) -> str | None:
    """HubSpot logs dates as epoch milliseconds; the warehouse sometimes as ISO text."""
    if value is None:
        return None
    if re.fullmatch(r"-?\d{10,13}", value):
        seconds = int(value) / (1000 if len(value.lstrip("-")) > 11 else 1)
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")
    match = re.match(r"(\d{4}-\d{2}-\d{2})", value)
    return match.group(1) if match else None


def _property_history(
    file: CsvFile, batch: ImportBatch, book: _StageBook | None, known: set[str] | None, source: int
) -> pa.Table | None:
    """Changes of the tracked properties as events (deal_id, at, field, value, _source, _row)."""
    cells = Cells(file)
    names = cells.raw("name")
    canonical = pc.take(
        pa.array(list(PROPERTY_FIELDS.values())),
        pc.index_in(names, value_set=pa.array(list(PROPERTY_FIELDS))),
    )
    tracked = pc.is_valid(canonical).to_numpy(zero_copy_only=False)
    ignored = int((~tracked).sum())
    if ignored:
        batch.notices.append(
            Notice(
                file.name,
                "name",
                ignored,
                "are changes of properties Quarterdeck does not track "
                f"(it tracks {', '.join(PROPERTY_FIELDS)}); not imported",
            )
        )
    if not tracked.any():
        batch.rejects.extend(cells.file.bad_rows)
        return None
    deal_id = cells.text("deal_id", required=True)
    at = cells.timestamp("timestamp", required=True)
    fields = canonical.to_pylist()
    values = pc.utf8_trim_whitespace(cells.file.column("value").combine_chunks()).to_pylist()
    out: list[str | None] = []
    bad = np.zeros(cells.rows, dtype=bool)
    for row, (name, value) in enumerate(zip(fields, values, strict=True)):
        value = value or None
        if name is None or value is None:
            out.append(value)
        elif name == "stage":
            out.append(book.label(value) if book else value)
        elif name == "close_date":
            out.append(_epoch_or_date(value))
            bad[row] = out[-1] is None
        elif name == "forecast_category":
            out.append(
                _CATEGORIES.get(value.lower().replace("_", " "), _CATEGORIES.get(value.lower()))
            )
            bad[row] = out[-1] is None
        elif name in ("amount", "probability"):
            ok = re.fullmatch(r"-?\d+(\.\d+)?", value) is not None
            out.append(value if ok else None)
            bad[row] = not ok
        else:
            out.append(value)
    cells.flag(bad, "value", "is not a valid value for this property")
    _unknown(cells, pc.if_else(pa.array(tracked), deal_id, pa.scalar(None, pa.string())), known)
    # Rows of untracked properties are not imported, so their cells are not held against them.
    lines = {file.line_of(int(r)) for r in np.flatnonzero(tracked & cells.rejected())}
    batch.rejects.extend(r for r in cells.rejects() if r.column is None or r.line in lines)
    table = pa.table(
        {
            "deal_id": deal_id,
            "at": at,
            "field": canonical,
            "new_value": pa.array(out, pa.string()),
            "_row": row_index(cells.rows),
        }
    ).filter(pa.array(tracked & ~cells.rejected()))
    return pa.table(
        {
            "deal_id": table.column("deal_id"),
            "at": table.column("at"),
            "field": table.column("field"),
            "value": table.column("new_value"),
            "_source": pa.array([source] * table.num_rows, pa.int64()),
            "_row": table.column("_row"),
        }
    )


# -- owners ---------------------------------------------------------------------------------


def _owners(file: CsvFile, batch: ImportBatch) -> pa.Table:
    cells = Cells(file)
    n = cells.rows
    first = cells.text("first_name") if cells.has("first_name") else pa.nulls(n, pa.string())
    last = cells.text("last_name") if cells.has("last_name") else pa.nulls(n, pa.string())
    name = pc.utf8_trim_whitespace(
        pc.binary_join_element_wise(pc.fill_null(first, ""), pc.fill_null(last, ""), " ")
    )
    title = cells.text("title") if cells.has("title") else pa.nulls(n, pa.string())
    columns = {
        "user_id": cells.text("owner_id", required=True),
        "name": pc.if_else(pc.equal(name, ""), pa.scalar(None, pa.string()), name),
        "email": cells.text("email"),
        "role": role_of(title),
        "_row": row_index(n),
    }
    table = keep(pa.table(columns), cells.rejected())
    batch.rejects.extend(cells.rejects())
    table, duplicates = drop_duplicates(
        file, table, "user_id", what="owner id", notices=batch.notices
    )
    batch.rejects.extend(duplicates)
    return table


# -- the format -----------------------------------------------------------------------------


def _stages_table(book: _StageBook | None, derived: list[dict[str, object]]) -> pa.Table | None:
    rows: dict[tuple[object, object], dict[str, object]] = {}
    if book is not None:
        for stage in book.by_id.values():
            rows.setdefault(
                (stage.pipeline, stage.label),
                {
                    "pipeline": stage.pipeline,
                    "stage": stage.label,
                    "sort_order": stage.order,
                    "is_closed": stage.is_closed,
                    "is_won": stage.is_won,
                    "probability": stage.probability,
                },
            )
    votes: dict[tuple[object, object], Counter[tuple[bool, bool]]] = {}
    for row in derived:
        key = (row["pipeline"], row["stage"])
        if key not in rows:
            votes.setdefault(key, Counter())[(bool(row["is_closed"]), bool(row["is_won"]))] += 1
    extra = [
        {
            "pipeline": p,
            "stage": s,
            "is_closed": c.most_common(1)[0][0][0],
            "is_won": c.most_common(1)[0][0][1],
        }
        for (p, s), c in sorted(votes.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1])))
    ]
    schema = pa.schema(
        [
            ("pipeline", pa.string()),
            ("stage", pa.string()),
            ("sort_order", pa.int64()),
            ("is_closed", pa.bool_()),
            ("is_won", pa.bool_()),
            ("probability", pa.float64()),
        ]
    )
    if rows:
        return pa.Table.from_pylist([*rows.values(), *extra], schema=schema)
    if extra:
        return pa.Table.from_pylist(extra, schema=schema.remove(5).remove(2))
    return None


def _read(files: Mapping[str, list[CsvFile]], options: ReadOptions) -> ImportBatch:
    batch = ImportBatch("hubspot", [f for group in files.values() for f in group])
    book = _stage_book(files, batch)
    times: list[pa.Array] = []
    for file in files.get("owner", []):
        batch.users = append(batch.users, _owners(file, batch))
    # Stage history first: a deal row with no stage takes the last stage it entered.
    stage_parts = [_stage_history(file, batch, book) for file in files.get("deal_stage", [])]
    current: dict[str, str] = {}
    for _, table, skip in stage_parts:
        kept = keep(table, skip).sort_by([("at", "ascending"), ("_row", "ascending")])
        for row in kept.select(["deal_id", "stage"]).to_pylist():
            if row["deal_id"] and row["stage"]:
                current[row["deal_id"]] = row["stage"]
        times.append(table.column("at"))
    derived: list[dict[str, object]] = []
    for role, ui in (("deals", True), ("deal", False)):
        for file in files.get(role, []):
            deals, stages, stamps = _deals(file, batch, options, book, current, ui=ui)
            batch.deals = append(batch.deals, deals)
            derived.extend(stages)
            times.extend(stamps)
    known = set(batch.deals.column("deal_id").to_pylist()) if batch.deals is not None else None
    for cells, table, _ in stage_parts:
        _unknown(cells, table.column("deal_id").combine_chunks(), known)
    # The stage and property logs become one wide history: HubSpot logs each property on its
    # own, and a snapshot of every tracked field after each change is what the store keeps.
    events = _finish_stage_history(stage_parts, batch)
    for number, file in enumerate(files.get("property_history", []), start=len(events)):
        changes = _property_history(file, batch, book, known, number)
        if changes is not None:
            times.append(changes.column("at"))
            events.append(changes)
    batch.history = _wide_history(events)
    batch.stages = _stages_table(book, derived)
    if batch.accounts is not None:
        batch.accounts = _unique(batch.accounts, "account_id")
    if batch.users is not None:
        batch.users = _unique(batch.users, "user_id")
    batch.as_of = latest_time(*times) if times else None
    return batch


def _unique(table: pa.Table, key: str) -> pa.Table:
    """First row per key (accounts and owners named by several deals)."""
    seen: set[object] = set()
    rows = []
    for i, value in enumerate(table.column(key).to_pylist()):
        if value not in seen:
            seen.add(value)
            rows.append(i)
    return table.take(pa.array(rows, pa.int64())) if len(rows) < table.num_rows else table


register(
    Format(
        name="hubspot",
        description="HubSpot deals export or Fivetran HubSpot sync",
        role=_role,
        read=_read,
        expects="a deals export with Record ID and Deal Stage, or the Fivetran tables deal, "
        "deal_stage, deal_property_history, deal_pipeline_stage, owner",
        main_roles=("deals", "deal", "deal_stage", "property_history", "pipeline_stage", "owner"),
    )
)
