"""History that accrues: turning imports into deal events, and rebuilding any past state.

Two sources of history feed ``deal_events``:

* the CRM's own log (Salesforce OpportunityHistory and field history, HubSpot stage and
  property history), imported as it is, each change at the time the CRM recorded it;
* snapshots: where the CRM gives no log, each import is compared with the state the store
  already holds and every difference becomes an event at the import's as-of time.

Re-importing the same data adds nothing, because an event that is already stored (same
deal, field, time and value) is never written twice. ``deals_as_of`` rebuilds the tracked
fields of every deal at any past moment from these events alone.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from quarterdeck.model import MONEY, TABLES, TRACKED_FIELDS
from quarterdeck.sources.batch import ImportBatch
from quarterdeck.store import Store

__all__ = ["apply_batch", "canonical_text", "deals_as_of", "typed_value"]

_EVENT_TYPES = {
    "stage": "string",
    "amount": MONEY,
    "close_date": "date",
    "forecast_category": "string",
    "probability": "float64",
    "owner_id": "string",
}


def typed_value(field: str, text: ir.StringValue) -> ir.Value:
    """The text of an event value read back as the field's type."""
    target = _EVENT_TYPES[field]
    if field == "close_date":
        return text.cast("timestamp").cast("date")
    return text.cast(target)


def canonical_text(field: str, value: ir.Value) -> ir.StringValue:
    """One spelling per value, so that equal values compare equal as text."""
    typed = value.cast("string") if value.type().is_string() else value
    if field in ("amount", "close_date", "probability") and value.type().is_string():
        typed = typed_value(field, value)
    elif field == "close_date":
        typed = value.cast("date")
    elif field == "amount":
        typed = value.cast(MONEY)
    elif field == "probability":
        typed = value.cast("float64")
    return typed.cast("string")


def apply_batch(
    store: Store, batch: ImportBatch, import_id: int, as_of: datetime
) -> dict[str, int]:
    """Write ``batch`` into the store (the caller holds the transaction). Returns row counts."""
    counts: dict[str, int] = {}
    for name in ("stages", "accounts", "users"):
        table = getattr(batch, name)
        if table is not None and table.num_rows:
            counts[name] = _upsert(store, name, table, import_id)
    events_before = store.next_value("deal_events", "seq")
    history_fields: set[str] = set()
    if batch.history is not None and batch.history.num_rows:
        history_fields |= {f for f in TRACKED_FIELDS if f in batch.history.column_names}
        _add_history(store, batch.history, import_id)
    if batch.field_events is not None and batch.field_events.num_rows:
        history_fields |= set(batch.field_events.column("field").unique().to_pylist())
        _add_field_events(store, batch.field_events, import_id)
    if batch.deals is not None and batch.deals.num_rows:
        _add_snapshot(store, batch.deals, import_id, as_of, history_fields)
        counts["deals"] = _upsert(store, "deals", batch.deals, import_id)
        _refresh_first_won(store)
    for name in ("activities", "targets"):
        table = getattr(batch, name)
        if table is not None and table.num_rows:
            counts[name] = _upsert(store, name, table, import_id)
    counts["deal_events"] = store.next_value("deal_events", "seq") - events_before
    return counts


# -- canonical tables -----------------------------------------------------------------------


def _clean(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in table.column_names if c.startswith("_")])


def _upsert(store: Store, name: str, rows: pa.Table, import_id: int) -> int:
    """Replace rows with the same key; columns the batch does not provide keep their value."""
    spec = TABLES[name]
    rows = _clean(rows)
    provided = [c for c in rows.column_names if c in spec.column_names]
    staged = store.stage(rows.select(provided))
    existing = store.table(name)
    if spec.key and store.scalar(existing.count()) > 0:
        keep_cols = [c for c in spec.column_names if c not in provided and c != "import_id"]
        if keep_cols:
            old = existing.select(*spec.key, *[existing[c].name(f"_old_{c}") for c in keep_cols])
            staged = staged.left_join(old, list(spec.key)).select(
                *[staged[c] for c in provided], *[ibis._[f"_old_{c}"].name(c) for c in keep_cols]
            )
        store.delete_matching(name, staged)
    staged = staged.mutate(import_id=ibis.literal(import_id, "int64"))
    store.insert(name, staged)
    return rows.num_rows


def _refresh_first_won(store: Store) -> None:
    store.backend.raw_sql(
        "UPDATE accounts SET first_won_date = ("
        "SELECT min(close_date) FROM deals WHERE deals.account_id = accounts.account_id "
        "AND deals.is_won)"
    )


# -- events ---------------------------------------------------------------------------------


def _long(staged: ir.Table, fields: list[str]) -> ir.Table:
    parts = [
        staged.select(
            "deal_id",
            "at",
            field=ibis.literal(f),
            value=canonical_text(f, staged[f]),
            **(
                {"_order": staged["_order"]}
                if "_order" in staged.columns
                else {"_order": ibis.literal(0)}
            ),
        )
        for f in fields
    ]
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def _changes(long: ir.Table) -> ir.Table:
    """Rows whose value differs from the previous one of the same deal and field."""
    window = ibis.window(group_by=["deal_id", "field"], order_by=["at", "_order"])
    with_prev = long.mutate(
        old_value=long.value.lag().over(window), _first=ibis.row_number().over(window) == 0
    )
    changed = with_prev.filter(
        ibis.or_(
            with_prev._first & with_prev.value.notnull(),
            ~with_prev._first
            & (with_prev.value != with_prev.old_value).fill_null(
                with_prev.value.isnull() != with_prev.old_value.isnull()
            ),
        )
    )
    return changed.select("deal_id", "at", "field", "old_value", "_order", new_value=changed.value)


def _insert_events(store: Store, events: ir.Table, origin: str, import_id: int) -> None:
    existing = store.table("deal_events")
    fresh = events.anti_join(
        existing,
        [
            events.deal_id == existing.deal_id,
            events.field == existing.field,
            events.at == existing.at,
            events.new_value.identical_to(existing.new_value),
        ],
    )
    base = store.next_value("deal_events", "seq")
    if "_order" not in fresh.columns:
        fresh = fresh.mutate(_order=ibis.literal(0, "int64"))
    window = ibis.window(order_by=["deal_id", "at", "_order", "field"])
    fresh = fresh.mutate(
        origin=ibis.literal(origin),
        seq=(ibis.row_number().over(window) + base + 1).cast("int64"),
        import_id=ibis.literal(import_id, "int64"),
    )
    store.insert("deal_events", fresh)


def _add_history(store: Store, history: pa.Table, import_id: int) -> None:
    fields = [f for f in TRACKED_FIELDS if f in history.column_names]
    staged = store.stage(history)
    _insert_events(store, _changes(_long(staged, fields)), "history", import_id)


def _add_field_events(store: Store, events: pa.Table, import_id: int) -> None:
    staged = store.stage(_clean(events))
    parts = []
    for field in staged.field.distinct().to_pyarrow().column(0).to_pylist():
        one = staged.filter(staged.field == field)
        parts.append(
            one.select(
                "deal_id",
                "at",
                "field",
                old_value=canonical_text(field, one.old_value),
                new_value=canonical_text(field, one.new_value),
            )
        )
    _insert_events(store, ibis.union(*parts), "history", import_id)


def _latest(store: Store, at: datetime | None = None) -> ir.Table:
    """The last value of every (deal, field) at ``at`` (or ever)."""
    events = store.table("deal_events")
    if at is not None:
        events = events.filter(events.at <= ibis.literal(at, "timestamp"))
    window = ibis.window(
        group_by=["deal_id", "field"], order_by=[ibis.desc("at"), ibis.desc("seq")]
    )
    ranked = events.mutate(_rank=ibis.row_number().over(window))
    return ranked.filter(ranked._rank == 0).select("deal_id", "field", "at", "new_value")


def _add_snapshot(
    store: Store, deals: pa.Table, import_id: int, as_of: datetime, history_fields: set[str]
) -> None:
    """Record as events every tracked value that differs from what the store knows."""
    fields = [f for f in TRACKED_FIELDS if f in deals.column_names]
    if not fields:
        return
    columns = ["deal_id", *fields, *(["created_at"] if "created_at" in deals.column_names else [])]
    staged = store.stage(_clean(deals).select(columns))
    snap_at = ibis.literal(as_of, "timestamp")
    created = staged.created_at if "created_at" in staged.columns else snap_at
    parts = []
    for field in fields:
        # A field the CRM's log never changed has held its value since the deal was created;
        # without a log, a value is only known from the moment of the snapshot.
        at = (
            ibis.least(created, snap_at)
            if history_fields and field not in history_fields
            else snap_at
        )
        parts.append(
            staged.select(
                "deal_id",
                at=at,
                field=ibis.literal(field),
                value=canonical_text(field, staged[field]),
            )
        )
    snap = ibis.union(*parts)
    last = _latest(store)
    joined = snap.left_join(last, [snap.deal_id == last.deal_id, snap.field == last.field])
    joined = joined.select(
        snap.deal_id,
        snap.field,
        snap.value,
        snap_at=snap.at,
        last_at=last.at,
        last_value=last.new_value,
        known=last.deal_id.notnull(),
    )
    differs = ibis.or_(
        ~joined.known & joined.value.notnull(),
        joined.known
        & (joined.value != joined.last_value).fill_null(
            joined.value.isnull() != joined.last_value.isnull()
        ),
    )
    events = joined.filter(differs).select(
        "deal_id",
        at=ibis.greatest(joined.snap_at, joined.last_at.fill_null(joined.snap_at)),
        field=joined.field,
        old_value=joined.last_value,
        new_value=joined.value,
    )
    _insert_events(store, events, "snapshot", import_id)


# -- as of ----------------------------------------------------------------------------------


def deals_as_of(store: Store, at: datetime) -> ir.Table:
    """Every deal that existed at ``at``, with its tracked fields as they stood then.

    ``is_closed`` and ``is_won`` follow from the stage as of ``at`` (via ``stages``); deals
    with no event at or before ``at`` are not included.
    """
    last = _latest(store, at)
    aggregates = {f: last.new_value.max(where=last.field == f) for f in TRACKED_FIELDS}
    wide = last.group_by("deal_id").aggregate(**aggregates)
    wide = wide.mutate(**{f: typed_value(f, wide[f]) for f in TRACKED_FIELDS if f != "stage"})
    deals = store.table("deals").select("deal_id", "pipeline", "account_id", "motion", "created_at")
    stages = store.table("stages").select("pipeline", "stage", "is_closed", "is_won")
    joined = wide.join(deals, "deal_id")
    joined = joined.left_join(
        stages,
        [
            joined.pipeline.fill_null("") == stages.pipeline.fill_null(""),
            joined.stage == stages.stage,
        ],
    )
    return joined.select(
        "deal_id",
        "account_id",
        "motion",
        "created_at",
        *TRACKED_FIELDS,
        is_closed=joined.is_closed.fill_null(False),
        is_won=joined.is_won.fill_null(False),
    )
