"""Any CSV, read through a mapping file that says which column is which canonical field.

A mapping is TOML (or YAML, when the file ends ``.yml``/``.yaml``). It names, for each file
that plays a part (deals, accounts, users, products, targets, activities), the columns
that hold each canonical field; the type of a field comes from the canonical model, never
from the mapping. It declares the stages (which are won, lost and open: any other stage is
rejected), maps source values to canonical ones, and lists corrections of known bad values,
which are applied and reported with their counts, never silently. Example::

    [format]
    name = "maven"
    description = "Maven CRM sales opportunities"
    date_order = "MDY"                     # or "DMY"; --date-order wins
    as_of = "max:close_date,created_at"    # or a date "2015-04-01"; --as-of wins
    pipeline = "default"                   # pipeline name for the declared stages

    [files.deals]                          # the file that plays the deals table
    match = "sales_pipeline*.csv"          # file-name glob (when the name is known)
    detect = ["opportunity_id", "deal_stage"]   # columns that identify the file

    [files.deals.columns]                  # canonical field = source column
    deal_id = "opportunity_id"
    stage = "deal_stage"
    amount = "close_value"
    close_date = "close_date"

    [files.deals.constants]                # canonical field = one value for every row
    motion = "new_business"
    close_date = "as_of"                   # the import's as-of date (a file without dates)

    [files.deals.stages]                   # the stage declaration (deals only)
    open = ["Prospecting", "Engaging"]     # in process order
    won = ["Won"]
    lost = ["Lost"]

    [files.deals.values.motion]            # source value = canonical value
    "Existing Business" = "expansion"

    [files.deals.fix.product]              # declared corrections: reported with counts
    "GTXPro" = "GTX Pro"

    [files.deals.custom]                   # custom JSON key = source column
    series = "series"

    [files.deals.known_at_close]           # values only known once a deal is over; kept in
    stage_changes = "Sales Stage Change Count"   # custom JSON under "known_at_close"

    [files.deals.history]                  # an export with no change log: rebuild each
    from_dates = true                      # deal's past from created_at and close_date
    opened_stage = "Engaging"              # a declared open stage
    opened_amount = "product_list_price"   # optional: a product field or a deals column

Fields by table (``*`` required):

* deals: deal_id*, stage*, account_id, owner_id, name, motion, amount, currency,
  forecast_category, probability (0-1, or a percentage above 1), created_at, close_date,
  loss_reason, source, product, pipeline;
* accounts: account_id*, name, segment, industry, region, size_band, employees (gives the
  size band), created_at;
* users: user_id*, name, email, role (from the title words when not one of the roles),
  team, manager_id, hire_date, end_date;
* products: product*, list_price, and any other field as text: a lookup the deals join
  to on ``product``; its fields land in the deals' custom JSON as ``product_<field>``;
* targets: period_start*, period_end*, amount*, scope, scope_id;
* activities: activity_id*, deal_id, account_id, at, kind, direction, who.

History from dates (``[files.deals.history]``, origin ``reconstructed`` in
``deal_events``) gives each deal with a ``created_at``, when the store does not hold it yet:

* at ``created_at``, a closed deal is in ``opened_stage`` with ``opened_amount`` (the
  field of its product, such as ``product_list_price``, or a column of the deals file;
  no amount when that is empty), its owner, and no close date, forecast category or
  probability (the probability of ``opened_stage`` when probabilities are declared);
* at 00:00 of its ``close_date`` (the as-of date when it has none), its final values;
  a deal closed before it was created (entered after the fact) has its final values
  from ``created_at`` on;
* an open deal has its current values (its own stage, amount and close date) from
  ``created_at`` on: when it moved between open stages is not in the export.

Times are never later than the as-of date. A deal without ``created_at`` gets its values
at the as-of date, as in any snapshot; a deal the store already holds is compared with
what the store knows, and each difference is a change at the as-of date.

Empty values of optional deal fields are kept and reported (with how many of those deals
are open and closed); deal references to accounts, owners and products that the files do
not hold are reported too. Shipped mappings live in ``sources/mappings/`` and are detected
by their ``detect`` columns; any other mapping is given with ``--mapping FILE``.
"""

from __future__ import annotations

import fnmatch
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from quarterdeck.errors import ConfigError
from quarterdeck.model import MOTIONS, ROLES, TRACKED_FIELDS
from quarterdeck.sources.batch import (
    ImportBatch,
    Notice,
    append,
    drop_duplicates,
    keep,
    public_columns,
)
from quarterdeck.sources.crm import (
    FORECAST_CATEGORY_NAMES,
    close_before_create,
    latest_time,
    role_of,
    row_index,
    size_band,
)
from quarterdeck.sources.formats import Format, ReadOptions, register
from quarterdeck.sources.reading import CsvFile
from quarterdeck.sources.values import Cells

__all__ = ["SHIPPED", "DatedHistory", "FileSpec", "MappingSpec", "load_mapping"]

SHIPPED = Path(__file__).parent / "mappings"
"""Folder of the mappings that ship with Quarterdeck, one Format each."""

_KINDS = {
    "deals": {
        "deal_id": "id",
        "stage": "stage",
        "account_id": "text",
        "owner_id": "text",
        "name": "text",
        "motion": "motion",
        "amount": "amount",
        "currency": "text",
        "forecast_category": "category",
        "probability": "probability",
        "created_at": "timestamp",
        "close_date": "date",
        "loss_reason": "text",
        "source": "text",
        "product": "text",
        "pipeline": "text",
    },
    "accounts": {
        "account_id": "id",
        "name": "text",
        "segment": "text",
        "industry": "text",
        "region": "text",
        "size_band": "text",
        "employees": "number",
        "created_at": "timestamp",
    },
    "users": {
        "user_id": "id",
        "name": "text",
        "email": "text",
        "role": "role",
        "team": "text",
        "manager_id": "text",
        "hire_date": "date",
        "end_date": "date",
    },
    "products": {"product": "id", "list_price": "amount"},
    "targets": {
        "period_start": "required_date",
        "period_end": "required_date",
        "amount": "required_amount",
        "scope": "text",
        "scope_id": "text",
    },
    "activities": {
        "activity_id": "id",
        "deal_id": "text",
        "account_id": "text",
        "at": "timestamp",
        "kind": "text",
        "direction": "text",
        "who": "text",
    },
}
"""Canonical fields of each file kind and how their values are read."""

_KEYS = {"deals": "deal_id", "accounts": "account_id", "users": "user_id", "products": "product"}
_ORDER = ("users", "accounts", "products", "deals", "targets", "activities")


@dataclass(frozen=True)
class DatedHistory:
    """``[files.deals.history]``: each new deal's history rebuilt from its dates."""

    opened_stage: str
    """The stage of a closed deal from its creation until it closed."""
    opened_amount: str | None = None
    """Where a closed deal's amount before it closed comes from: ``product_<field>`` (a
    field of the products file) or a column of the deals file; None for no amount."""


@dataclass(frozen=True)
class FileSpec:
    """How one kind of file maps onto a canonical table."""

    kind: str
    match: str | None
    detect: tuple[str, ...]
    columns: dict[str, str]
    constants: dict[str, str]
    values: dict[str, dict[str, str]]
    fixes: dict[str, dict[str, str]]
    custom: dict[str, str]
    known_at_close: dict[str, str]
    stages: dict[str, list[str]] = field(default_factory=dict)
    probabilities: dict[str, float] = field(default_factory=dict)
    history: DatedHistory | None = None

    def claims(self, header: tuple[str, ...], name: str | None) -> bool:
        if not set(self.detect) <= set(header):
            return False
        return (
            name is None or self.match is None or fnmatch.fnmatch(name.lower(), self.match.lower())
        )


@dataclass(frozen=True)
class MappingSpec:
    """A whole mapping file: the format's settings and its file specs, in reading order."""

    name: str
    description: str
    path: Path
    date_order: str
    as_of: str | None
    pipeline: str
    files: dict[str, FileSpec]

    def role(self, header: tuple[str, ...], name: str | None) -> str | None:
        for kind, spec in self.files.items():
            if spec.claims(header, name):
                return kind
        return None


def _strings(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"{where}: expected a table of names to text values")
    return {str(k): v for k, v in value.items()}


def load_mapping(path: Path) -> MappingSpec:
    """Read and check a mapping file; raise ``ConfigError`` saying what is wrong."""
    path = Path(path)
    return _load(path.resolve(), path.stat().st_mtime_ns if path.exists() else 0)


@cache
def _load(path: Path, _mtime: int) -> MappingSpec:
    if not path.exists():
        raise ConfigError(f"{path}: no such mapping file")
    text = path.read_text(encoding="utf-8")
    try:
        data = (
            yaml.safe_load(text)
            if path.suffix.lower() in (".yml", ".yaml")
            else tomllib.loads(text)
        )
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path.name}: not a valid mapping file: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict) or not data["files"]:
        raise ConfigError(f"{path.name}: a mapping needs a [files.<kind>] section (deals, ...)")
    head = data.get("format") or {}
    order = str(head.get("date_order", "MDY")).upper()
    if order not in ("MDY", "DMY"):
        raise ConfigError(f"{path.name}: [format] date_order must be MDY or DMY, not {order!r}")
    files: dict[str, FileSpec] = {}
    for kind in sorted(data["files"], key=lambda k: _ORDER.index(k) if k in _ORDER else 99):
        files[kind] = _file_spec(path.name, kind, data["files"][kind])
    return MappingSpec(
        name=str(head.get("name", path.stem)),
        description=str(head.get("description", f"CSV through mapping {path.name}")),
        path=path,
        date_order=order,
        as_of=str(head["as_of"]) if head.get("as_of") is not None else None,
        pipeline=str(head.get("pipeline", "default")),
        files=files,
    )


def _file_spec(source: str, kind: str, raw: Any) -> FileSpec:
    where = f"{source}: [files.{kind}]"
    if kind not in _KINDS:
        raise ConfigError(f"{where}: unknown file kind; use one of {', '.join(_KINDS)}")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    columns = _strings(raw.get("columns"), f"{where}.columns")
    constants = {k: str(v) for k, v in (raw.get("constants") or {}).items()}
    fields = _KINDS[kind]
    for name in [*columns, *constants]:
        if name not in fields and kind != "products":
            raise ConfigError(
                f"{where}: {name!r} is not a field of {kind}; fields: {', '.join(fields)}"
            )
    key = _KEYS.get(kind)
    if key and key not in columns:
        raise ConfigError(f"{where}.columns: {key} is required (the column that identifies a row)")
    values = {k: _strings(v, f"{where}.values.{k}") for k, v in (raw.get("values") or {}).items()}
    fixes = {k: _strings(v, f"{where}.fix.{k}") for k, v in (raw.get("fix") or {}).items()}
    for name in [*values, *fixes]:
        if name not in columns:
            raise ConfigError(f"{where}: values and fixes of {name!r} need a column for it")
    stages: dict[str, list[str]] = {}
    probabilities: dict[str, float] = {}
    if kind == "deals":
        declared = raw.get("stages") or {}
        if "stage" in columns and not any(declared.get(k) for k in ("won", "lost")):
            raise ConfigError(
                f"{where}.stages: declare the stages: open = [...], won = [...], lost = [...]"
            )
        stages = {k: [str(s) for s in declared.get(k, [])] for k in ("open", "won", "lost")}
        probabilities = {str(k): float(v) for k, v in (declared.get("probability") or {}).items()}
    history = _dated_history_spec(where, kind, raw.get("history"), columns, stages)
    detect = tuple(raw.get("detect") or sorted(set(columns.values())))
    return FileSpec(
        kind=kind,
        match=raw.get("match"),
        detect=detect,
        columns=columns,
        constants=constants,
        values=values,
        fixes=fixes,
        custom=_strings(raw.get("custom"), f"{where}.custom"),
        known_at_close=_strings(raw.get("known_at_close"), f"{where}.known_at_close"),
        stages=stages,
        probabilities=probabilities,
        history=history,
    )


def _dated_history_spec(
    where: str, kind: str, raw: Any, columns: dict[str, str], stages: dict[str, list[str]]
) -> DatedHistory | None:
    if raw is None:
        return None
    where = f"{where}.history"
    if kind != "deals":
        raise ConfigError(f"{where}: only deals have a history")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = sorted(set(raw) - {"from_dates", "opened_stage", "opened_amount"})
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; "
            "keys: from_dates, opened_stage, opened_amount"
        )
    if not isinstance(raw.get("from_dates", False), bool):
        raise ConfigError(f"{where}: from_dates must be true or false")
    if not raw.get("from_dates", False):
        return None
    for name in ("created_at", "stage"):
        if name not in columns:
            raise ConfigError(f"{where}: from_dates needs a column for {name}")
    opened_stage = raw.get("opened_stage")
    if opened_stage not in stages.get("open", []):
        raise ConfigError(
            f"{where}: opened_stage must be one of the declared open stages "
            f"{stages.get('open', [])}, not {opened_stage!r}"
        )
    opened_amount = raw.get("opened_amount")
    if opened_amount is not None and not (isinstance(opened_amount, str) and opened_amount):
        raise ConfigError(f"{where}: opened_amount must name a product field or a column")
    return DatedHistory(str(opened_stage), opened_amount)


# -- reading --------------------------------------------------------------------------------


def _json_objects(n: int, pairs: list[tuple[str, pa.Array]], *, raw: bool = False) -> pa.Array:
    """One JSON object per row from (key, text values); empty values are left out."""
    body: pa.Array = pa.nulls(n, pa.string())
    for key, values in pairs:
        values = pc.utf8_trim_whitespace(pc.fill_null(values, ""))
        if raw:
            piece = pc.binary_join_element_wise(json.dumps(key) + ":", values, "")
        else:
            escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
            escaped = pc.replace_substring_regex(escaped, r"[\r\n\t]", " ")
            piece = pc.binary_join_element_wise(json.dumps(key) + ':"', escaped, '"', "")
        piece = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), piece)
        body = pc.coalesce(pc.binary_join_element_wise(body, piece, ","), body, piece)
    return pc.binary_join_element_wise("{", body, "}", "")


def _merge_json(a: pa.Array, b: pa.Array) -> pa.Array:
    inner_a = pc.utf8_slice_codeunits(a, 1, -1)
    inner_b = pc.utf8_slice_codeunits(b, 1, -1)
    both = pc.binary_join_element_wise("{", inner_a, ",", inner_b, "}", "")
    return pc.coalesce(both, a, b)


@dataclass
class _Reader:
    """Reads the files of one mapping into a batch."""

    spec: MappingSpec
    options: ReadOptions
    batch: ImportBatch
    products: dict[str, dict[str, str | None]] | None = None

    @property
    def date_order(self) -> str:
        return self.options.date_order or self.spec.date_order

    def fix(self, file: CsvFile, spec: FileSpec) -> None:
        """Apply the declared corrections to the file's text, and report each with its count."""
        for name, corrections in spec.fixes.items():
            column = spec.columns[name]
            values = pc.utf8_trim_whitespace(file.column(column).combine_chunks())
            for wrong, right in corrections.items():
                hit = pc.equal(values, wrong)
                rows = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
                if not len(rows):
                    continue
                values = pc.if_else(hit, right, values)
                self.batch.notices.append(
                    Notice(
                        file.name,
                        column,
                        len(rows),
                        f"had {wrong!r}, corrected to {right!r} (a fix declared in the mapping)",
                        tuple(file.line_of(int(r)) for r in rows[:5]),
                    )
                )
            index = file.table.column_names.index(column)
            file.table = file.table.set_column(index, column, values)

    def constant(self, name: str, value: str, n: int, kind: str) -> pa.Array:
        if value == "as_of" and kind in ("date", "timestamp"):
            as_of = self.as_of_constant()
            return pa.array([as_of] * n, pa.timestamp("s")).cast(
                pa.date32() if kind == "date" else pa.timestamp("s")
            )
        if kind in ("date", "required_date"):
            return pa.array([date.fromisoformat(value)] * n, pa.date32())
        if kind == "timestamp":
            return pa.array([datetime.fromisoformat(value)] * n, pa.timestamp("s"))
        if kind in ("amount", "required_amount"):
            return pc.cast(pa.array([value] * n), pa.decimal128(18, 2))
        if kind in ("number", "probability"):
            return pa.array([float(value)] * n, pa.float64())
        return pa.array([value] * n, pa.string())

    def as_of_constant(self) -> datetime:
        if self.options.as_of is not None:
            return self.options.as_of
        if self.spec.as_of and not self.spec.as_of.startswith("max:"):
            return datetime.fromisoformat(self.spec.as_of)
        raise ConfigError(
            f"{self.spec.path.name}: a constant 'as_of' needs an as-of date: give --as-of, or "
            "set [format] as_of to a date"
        )

    def field(self, cells: Cells, spec: FileSpec, name: str, kind: str) -> pa.Array:
        n = cells.rows
        if name not in spec.columns:
            if name in spec.constants:
                return self.constant(name, spec.constants[name], n, kind)
            return _empty(kind, n)
        column = spec.columns[name]
        if not cells.has(column):
            return _empty(kind, n)
        mapped = spec.values.get(name, {})
        if kind == "id":
            return cells.text(column, required=True)
        if kind == "stage":
            return self.stage(cells, spec, column)
        if kind == "motion":
            allowed = {m: m for m in MOTIONS} | mapped
            return cells.choice(column, allowed, what="motion")
        if kind == "category":
            return cells.choice(column, FORECAST_CATEGORY_NAMES | mapped, what="forecast category")
        if kind == "role":
            values = cells.text(column)
            if mapped:
                values = _translate(values, mapped)
            known = pc.is_in(values, pa.array(ROLES))
            return pc.if_else(known, values, role_of(values))
        if kind in ("amount", "required_amount"):
            return cells.amount(column, required=kind == "required_amount")
        if kind == "number":
            return cells.number(column, low=0)
        if kind == "probability":
            number = cells.number(column, low=0, high=100)
            percent = pc.or_(
                pc.match_substring(cells.raw(column), "%"), pc.greater(pc.fill_null(number, 0), 1)
            )
            return pc.if_else(percent, pc.divide(number, 100.0), number)
        if kind == "timestamp":
            return cells.timestamp(column)
        if kind in ("date", "required_date"):
            return cells.date(column, required=kind == "required_date")
        values = cells.text(column)
        return _translate(values, mapped) if mapped else values

    def stage(self, cells: Cells, spec: FileSpec, column: str) -> pa.Array:
        values = cells.text(column, required=True)
        mapped = spec.values.get("stage", {})
        if mapped:
            values = _translate(values, mapped)
        declared = [s for k in ("open", "won", "lost") for s in spec.stages[k]]
        cells.flag(
            pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, pa.array(declared)))),
            column,
            "is an unknown stage: the mapping declares open "
            f"{spec.stages['open']}, won {spec.stages['won']} and lost {spec.stages['lost']}; "
            "add it to [files.deals.stages] if it is real",
        )
        return values

    # -- files ------------------------------------------------------------------------------

    def read(self, kind: str, file: CsvFile) -> pa.Table | None:
        spec = self.spec.files[kind]
        missing = [c for c in spec.columns.values() if c not in file.header]
        if missing:
            self.batch.notices.append(
                Notice(
                    file.name,
                    None,
                    0,
                    f"lacks the mapped column(s) {', '.join(missing)}; those fields are left empty",
                )
            )
        self.fix(file, spec)
        cells = Cells(file, date_order=self.date_order)
        fields = _KINDS[kind]
        if kind == "products":
            extra = [f for f in spec.columns if f not in fields]
            fields = {**fields, **dict.fromkeys(extra, "text")}
        columns = {
            name: self.field(cells, spec, name, how)
            for name, how in fields.items()
            if name in spec.columns or name in spec.constants or kind != "products"
        }
        custom = _json_objects(
            cells.rows, [(k, cells.raw(c)) for k, c in spec.custom.items() if cells.has(c)]
        )
        if spec.known_at_close:
            inner = _json_objects(
                cells.rows,
                [(k, cells.raw(c)) for k, c in spec.known_at_close.items() if cells.has(c)],
            )
            custom = _merge_json(
                custom, _json_objects(cells.rows, [("known_at_close", inner)], raw=True)
            )
        columns["custom"] = custom
        if kind == "deals":
            self.deal_columns(cells, spec, columns)
            self.report_constants(file, spec, cells.rows)
        elif kind == "accounts":
            employees = columns.pop("employees")
            if "size_band" not in spec.columns:
                if "employees" in spec.columns:
                    columns["size_band"] = size_band(employees)
                else:
                    columns.pop("size_band")
        elif kind == "targets":
            columns["scope"] = pc.fill_null(columns["scope"], "company")
            columns["scope_id"] = pc.fill_null(columns["scope_id"], "")
        if kind != "targets":
            # A field the mapping does not fill is left out, so the store keeps what it knows.
            for name in list(columns):
                if (
                    name in fields
                    and name not in spec.columns
                    and name not in spec.constants
                    and name not in ("is_closed", "is_won", "pipeline", "size_band")
                    and name != _KEYS.get(kind)
                    and not (kind == "deals" and name == "probability" and spec.probabilities)
                ):
                    del columns[name]
        table = pa.table({**columns, "_row": row_index(cells.rows)})
        table = keep(table, cells.rejected())
        self.batch.rejects.extend(cells.rejects())
        key = _KEYS.get(kind)
        if kind == "targets":
            table = table.append_column(
                "_key",
                pc.binary_join_element_wise(
                    pc.cast(table.column("period_start"), pa.string()),
                    table.column("scope"),
                    table.column("scope_id"),
                    "|",
                ),
            )
            key = "_key"
        if kind == "activities":
            key = "activity_id"
        if key:
            table, duplicates = drop_duplicates(
                file,
                table,
                key,
                what="target (period, scope)" if key == "_key" else key.replace("_", " "),
                notices=self.batch.notices,
            )
            self.batch.rejects.extend(duplicates)
        if kind == "targets":
            table = table.drop_columns(["_key"])
        if kind == "deals":
            self.report_empty(file, table, spec)
        return table

    def deal_columns(self, cells: Cells, spec: FileSpec, columns: dict[str, pa.Array]) -> None:
        stage = columns["stage"]
        won = pc.fill_null(pc.is_in(stage, pa.array(spec.stages["won"], pa.string())), False)
        lost = pc.fill_null(pc.is_in(stage, pa.array(spec.stages["lost"], pa.string())), False)
        columns["is_closed"] = pc.or_(won, lost)
        columns["is_won"] = won
        if "pipeline" not in spec.columns and "pipeline" not in spec.constants:
            columns["pipeline"] = pa.array([self.spec.pipeline] * cells.rows, pa.string())
        if "probability" not in spec.columns and spec.probabilities:
            columns["probability"] = pc.cast(
                _translate(
                    stage, {k: str(v) for k, v in spec.probabilities.items()}, keep_unknown=False
                ),
                pa.float64(),
            )
        if "created_at" in spec.columns and "close_date" in spec.columns:
            close_before_create(
                cells,
                columns["close_date"],
                columns["created_at"],
                self.batch.notices,
                spec.columns["close_date"],
            )
        if self.products is not None and "product" in spec.columns:
            columns["custom"] = _merge_json(
                columns["custom"], self.product_json(columns["product"])
            )
        if spec.history is not None and spec.history.opened_amount is not None:
            columns["_opened_amount"] = self.opened_amount(
                cells, spec.history.opened_amount, columns["product"]
            )

    def opened_amount(self, cells: Cells, source: str, product: pa.Array) -> pa.Array:
        """The amount of ``[files.deals.history] opened_amount``: a field of the deal's
        product (``product_<field>``) or a column of the deals file; null where unknown."""
        products = self.spec.files.get("products")
        field = source.removeprefix("product_")
        if source.startswith("product_") and products is not None and field in products.columns:
            if self.products is None:
                self.batch.notices.append(
                    Notice(
                        cells.file.name,
                        None,
                        0,
                        f"opened_amount {source} needs the products file, which was not "
                        "imported; closed deals have no amount before they close",
                    )
                )
                return _empty("amount", cells.rows)
            names = list(self.products)
            values = pa.array([self.products[p].get(field) for p in names], pa.string())
            text = pc.take(values, pc.index_in(product, pa.array(names, pa.string())))
            number = pc.match_substring_regex(pc.fill_null(text, ""), r"^-?\d+(\.\d+)?$")
            text = pc.if_else(number, text, pa.scalar(None, pa.string()))
            return pc.cast(pc.round(pc.cast(text, pa.decimal128(38, 10)), 2), pa.decimal128(18, 2))
        if not cells.has(source):
            self.batch.notices.append(
                Notice(
                    cells.file.name,
                    None,
                    0,
                    f"lacks the column {source} named by opened_amount; closed deals have no "
                    "amount before they close",
                )
            )
            return _empty("amount", cells.rows)
        return cells.amount(source)

    def report_constants(self, file: CsvFile, spec: FileSpec, n: int) -> None:
        """Say so when dates are not in the file: set to the as-of date, or missing."""
        for name, value in spec.constants.items():
            if value == "as_of":
                self.batch.notices.append(
                    Notice(
                        file.name,
                        None,
                        n,
                        f"have no {name} in the file; {name} set to the as-of date "
                        f"{self.as_of_constant():%Y-%m-%d} (as the mapping says)",
                    )
                )
        if "created_at" not in spec.columns and "created_at" not in spec.constants:
            self.batch.notices.append(
                Notice(
                    file.name,
                    None,
                    n,
                    "have no creation date in the file; created_at left empty, so there are "
                    "no cycle times",
                )
            )

    def product_json(self, product: pa.Array) -> pa.Array:
        assert self.products is not None
        names = sorted({k for fields in self.products.values() for k in fields})
        pairs = []
        for name in names:
            values = [self.products.get(p or "", {}).get(name) for p in product.to_pylist()]
            pairs.append((f"product_{name}", pa.array(values, pa.string())))
        return _json_objects(len(product), pairs)

    def report_empty(self, file: CsvFile, deals: pa.Table, spec: FileSpec) -> None:
        closed = deals.column("is_closed").to_numpy(zero_copy_only=False)
        for name in _KINDS["deals"]:
            if name not in spec.columns or name in ("deal_id", "stage"):
                continue
            empty = pc.is_null(deals.column(name)).to_numpy(zero_copy_only=False)
            if empty.any():
                rows = deals.column("_row").to_numpy()[empty]
                self.batch.notices.append(
                    Notice(
                        file.name,
                        spec.columns[name],
                        int(empty.sum()),
                        f"have no {name} ({int((empty & ~closed).sum()):,} open, "
                        f"{int((empty & closed).sum()):,} closed); kept with {name} empty",
                        tuple(file.line_of(int(r)) for r in rows[:5]),
                    )
                )
        if "amount" in spec.columns:
            zero = pc.fill_null(
                pc.equal(deals.column("amount"), pa.scalar(0, pa.decimal128(18, 2))), False
            )
            zero_np = zero.to_numpy(zero_copy_only=False)
            if zero_np.any():
                won = deals.column("is_won").to_numpy(zero_copy_only=False)
                self.batch.notices.append(
                    Notice(
                        file.name,
                        spec.columns["amount"],
                        int(zero_np.sum()),
                        f"have an amount of 0 ({int((zero_np & won).sum()):,} won, "
                        f"{int((zero_np & closed & ~won).sum()):,} lost, "
                        f"{int((zero_np & ~closed).sum()):,} open)",
                    )
                )

    def references(self) -> None:
        """Deals that name accounts, owners or products the files do not hold."""
        deals = self.batch.deals
        if deals is None:
            return
        checks: list[tuple[str, pa.Table | None, str, str]] = [
            ("account_id", self.batch.accounts, "account_id", "accounts"),
            ("owner_id", self.batch.users, "user_id", "users"),
        ]
        for column, table, key, what in checks:
            if table is None or column not in deals.column_names:
                continue
            values = deals.column(column)
            unknown = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, table.column(key))))
            count = pc.sum(unknown).as_py() or 0
            if count:
                self.batch.notices.append(
                    Notice(
                        self.deals_file,
                        self.spec.files["deals"].columns.get(column),
                        count,
                        f"name {column} values that the {what} file does not hold",
                    )
                )
        if self.products is not None and "product" in deals.column_names:
            values = deals.column("product")
            unknown = pc.and_(
                pc.is_valid(values),
                pc.invert(pc.is_in(values, pa.array(list(self.products), pa.string()))),
            )
            count = pc.sum(unknown).as_py() or 0
            if count:
                shown = sorted(set(pc.filter(values, unknown).to_pylist()))[:5]
                self.batch.notices.append(
                    Notice(
                        self.deals_file,
                        self.spec.files["deals"].columns.get("product"),
                        count,
                        f"name a product the products file does not hold ({', '.join(map(repr, shown))})",
                    )
                )

    deals_file: str = ""


def _empty(kind: str, n: int) -> pa.Array:
    types = {
        "amount": pa.decimal128(18, 2),
        "required_amount": pa.decimal128(18, 2),
        "number": pa.float64(),
        "probability": pa.float64(),
        "timestamp": pa.timestamp("s"),
        "date": pa.date32(),
        "required_date": pa.date32(),
    }
    return pa.nulls(n, types.get(kind, pa.string()))


def _translate(
    values: pa.Array, mapping: Mapping[str, str], *, keep_unknown: bool = True
) -> pa.Array:
    """Replace each value found in ``mapping`` (exact match) by its mapped value."""
    index = pc.index_in(values, value_set=pa.array(list(mapping), pa.string()))
    mapped = pc.take(pa.array(list(mapping.values()), pa.string()), index)
    return pc.coalesce(mapped, values) if keep_unknown else mapped


def _stages_table(spec: MappingSpec) -> pa.Table | None:
    deals = spec.files.get("deals")
    if deals is None or not deals.stages:
        return None
    rows = []
    order = 0
    for kind in ("open", "won", "lost"):
        for stage in deals.stages[kind]:
            order += 1
            rows.append(
                {
                    "pipeline": spec.pipeline,
                    "stage": stage,
                    "sort_order": order,
                    "is_closed": kind != "open",
                    "is_won": kind == "won",
                    "probability": deals.probabilities.get(
                        stage, 1.0 if kind == "won" else 0.0 if kind == "lost" else None
                    ),
                }
            )
    return pa.Table.from_pylist(rows)


def _read_with(
    spec: MappingSpec, files: Mapping[str, list[CsvFile]], options: ReadOptions
) -> ImportBatch:
    batch = ImportBatch(spec.name, [f for group in files.values() for f in group])
    reader = _Reader(spec, options, batch)
    tables: dict[str, pa.Table | None] = {}
    for kind in _ORDER:
        for file in files.get(kind, []):
            if kind == "deals":
                reader.deals_file = file.name
            table = reader.read(kind, file)
            tables[kind] = append(tables.get(kind), table)
            if kind == "products" and table is not None:
                reader.products = {
                    row.pop("product"): {
                        k: (str(v) if v is not None else None) for k, v in row.items()
                    }
                    for row in public_columns(table).drop_columns(["custom"]).to_pylist()
                }
            if kind in ("users", "accounts", "deals", "targets", "activities"):
                setattr(batch, kind, tables[kind])
    if batch.deals is not None:
        batch.stages = _stages_table(spec)
    reader.references()
    batch.as_of = _as_of(spec, batch)
    dated = spec.files["deals"].history if "deals" in spec.files else None
    if dated is not None and batch.deals is not None:
        batch.reconstructed = _dated_history(
            batch.deals, spec.files["deals"], options.as_of or batch.as_of
        )
        columns = spec.files["deals"].columns
        batch.notices.append(
            Notice(
                reader.deals_file,
                None,
                0,
                "has no change log: the history of each deal not stored yet is rebuilt from "
                f"{columns['created_at']} and {columns.get('close_date', 'the as-of date')} "
                "(as the mapping says)",
            )
        )
    return batch


def _dated_history(deals: pa.Table, spec: FileSpec, as_of: datetime | None) -> pa.Table:
    """Each dated deal's history rebuilt from its dates, as a log of full snapshots
    (deal_id, at and the tracked fields the mapping fills), sorted by deal and time."""
    assert spec.history is not None
    deals = deals.filter(pc.is_valid(deals.column("created_at")))
    n = deals.num_rows
    opened = deals.column("created_at").combine_chunks().cast(pa.timestamp("s"))
    if "close_date" in deals.column_names:
        close_at = deals.column("close_date").combine_chunks().cast(pa.timestamp("s"))
    else:
        close_at = pa.nulls(n, pa.timestamp("s"))
    if as_of is not None:
        limit = pa.scalar(as_of, pa.timestamp("s"))
        opened = pc.min_element_wise(opened, limit)
        close_at = pc.min_element_wise(pc.coalesce(close_at, limit), limit)
    close_at = pc.max_element_wise(close_at, opened, skip_nulls=False)
    closed = pc.fill_null(deals.column("is_closed").combine_chunks(), False)
    # A closed deal whose close is not after its creation has its final values from then on.
    at_once = pc.and_(closed, pc.fill_null(pc.less_equal(close_at, opened), False))
    as_opened = pc.and_(closed, pc.invert(at_once))
    later = pc.and_(as_opened, pc.is_valid(close_at))
    derived = "probability" not in spec.columns and bool(spec.probabilities)
    before: dict[str, Any] = {
        "stage": spec.history.opened_stage,
        "amount": (
            deals.column("_opened_amount").combine_chunks()
            if "_opened_amount" in deals.column_names
            else None
        ),
        "probability": spec.probabilities.get(spec.history.opened_stage) if derived else None,
    }
    first: dict[str, pa.Array] = {
        "deal_id": deals.column("deal_id").combine_chunks(),
        "at": opened,
    }
    fields = [f for f in TRACKED_FIELDS if f in deals.column_names]
    for name in fields:
        now = deals.column(name).combine_chunks()
        if name == "owner_id":
            first[name] = now
            continue
        then = before.get(name)
        if not isinstance(then, pa.Array):
            then = pa.scalar(then, now.type)
        first[name] = pc.if_else(as_opened, then, now)
    last = deals.select(["deal_id", *fields]).filter(later)
    last = last.add_column(1, "at", close_at.filter(later))
    return pa.concat_tables([pa.table(first), last]).sort_by(
        [("deal_id", "ascending"), ("at", "ascending")]
    )


def _as_of(spec: MappingSpec, batch: ImportBatch) -> datetime | None:
    rule = spec.as_of
    if rule is None:
        rule = "max:created_at,close_date"
    if not rule.startswith("max:"):
        return datetime.fromisoformat(rule)
    arrays = []
    for name in rule[4:].split(","):
        name = name.strip()
        if batch.deals is not None and name in batch.deals.column_names:
            arrays.append(pc.cast(batch.deals.column(name), pa.timestamp("s")))
    return latest_time(*arrays) if arrays else None


# -- formats --------------------------------------------------------------------------------


def _custom_role(header: tuple[str, ...], mapping_path: str) -> str | None:
    path = Path(mapping_path)
    if path.suffix.lower() not in (".toml", ".yml", ".yaml"):
        return None
    # The importer passes the mapping's path, not the file's name: detect by columns alone.
    return load_mapping(path).role(header, None)


def _custom_read(files: Mapping[str, list[CsvFile]], options: ReadOptions) -> ImportBatch:
    if options.mapping is None:
        raise ConfigError("the mapping format needs a mapping file: --mapping FILE")
    return _read_with(load_mapping(options.mapping), files, options)


register(
    Format(
        name="mapping",
        description="any CSV through a mapping file",
        role=_custom_role,
        read=_custom_read,
        expects="the columns named in the mapping's detect lists",
    )
)


def _shipped(path: Path) -> Format:
    spec = load_mapping(path)

    def role(header: tuple[str, ...], name: str) -> str | None:
        return spec.role(header, name)

    def read(files: Mapping[str, list[CsvFile]], options: ReadOptions) -> ImportBatch:
        return _read_with(spec, files, options)

    first = next(iter(spec.files.values()))
    return Format(
        name=spec.name,
        description=spec.description,
        role=role,
        read=read,
        expects=", ".join(first.detect),
        main_roles=("deals",) if "deals" in spec.files else tuple(spec.files),
    )


for _path in sorted(SHIPPED.glob("*.toml")):
    register(_shipped(_path))
