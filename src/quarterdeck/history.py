"""History that accrues: turning imports into deal events, and rebuilding any past state.

Three sources of history feed ``deal_events`` (its ``origin`` column says which):

* the CRM's own log (Salesforce OpportunityHistory and field history, HubSpot stage and
  property history), imported as it is, each change at the time the CRM recorded it;
* snapshots: where the CRM gives no log, each import is compared with the state the store
  already holds and every difference becomes an event at the import's as-of time;
* a history reconstructed from each deal's dates (a mapping's ``[files.deals.history]``),
  for deals the store does not know yet: what an export with no log says of their past.
  Deals already stored get the snapshot comparison, so history keeps accruing.

Re-importing the same data adds nothing, because an event that is already stored (same
deal, field, time and value) is never written twice. ``deals_as_of`` rebuilds the tracked
fields of every deal at any past moment from these events alone.

The comparison of an import with itself and with the store runs in Arrow and NumPy on the
batch (vectorised, engine-independent); the store is asked only for the latest value of
each deal's fields, and for the events it already holds when checking for repeats.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.model import MONEY, TABLES, TRACKED_ARROW_TYPES, TRACKED_FIELDS
from quarterdeck.sources.batch import ImportBatch, is_sorted, public_columns
from quarterdeck.store import Store

__all__ = [
    "apply_batch",
    "canonical_text",
    "deals_as_of",
    "deals_at",
    "event_order",
    "typed_value",
    "write_rows",
]

_IBIS_TYPES = {
    "stage": "string",
    "amount": MONEY,
    "close_date": "date",
    "forecast_category": "string",
    "probability": "float64",
    "owner_id": "string",
}
_EVENT_SCHEMA = pa.schema(
    [
        ("deal_id", pa.string()),
        ("at", pa.timestamp("s")),
        ("field", pa.string()),
        ("old_value", pa.string()),
        ("new_value", pa.string()),
    ]
)


def canonical_text(field: str, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One spelling per value (amount '1500.00', date '2024-03-31', probability '0.25'), so
    that equal values compare equal as text, whichever file they came from."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    target = TRACKED_ARROW_TYPES[field]
    if pa.types.is_string(values.type) and not pa.types.is_string(target):
        if field == "close_date":
            values = pc.cast(pc.cast(values, pa.timestamp("s")), pa.date32())
        elif field == "amount":
            values = pc.cast(pc.round(pc.cast(values, pa.decimal128(38, 10)), 2), target)
        else:
            values = pc.cast(values, target)
    elif values.type != target:
        values = pc.cast(values, target)
    return pc.cast(values, pa.string())


def typed_value(field: str, text: ir.StringValue) -> ir.Value:
    """The text of an event value read back as the field's type (inside the engine)."""
    return text.cast(_IBIS_TYPES[field])


def apply_batch(
    store: Store, batch: ImportBatch, import_id: int, as_of: datetime
) -> dict[str, int]:
    """Write ``batch`` into the store (the caller holds the transaction). Returns row counts."""
    counts: dict[str, int] = {}
    # Plain tables first, so their memory is free before the history work starts.
    for name in ("stages", "accounts", "users", "activities", "targets"):
        table = getattr(batch, name)
        if table is not None and table.num_rows:
            counts[name] = write_rows(store, name, table, import_id)
        setattr(batch, name, None)  # written: let the memory go
        pa.default_memory_pool().release_unused()
    # Deals themselves next; the comparison with history needs only their tracked fields.
    deals = None
    if batch.deals is not None and batch.deals.num_rows:
        counts["deals"] = write_rows(store, "deals", batch.deals, import_id)
        _refresh_first_won(store)
        wanted = ["deal_id", "created_at", *TRACKED_FIELDS]
        deals = batch.deals.select([c for c in wanted if c in batch.deals.column_names])
    batch.deals = None
    pa.default_memory_pool().release_unused()
    had_events = store.scalar(store.table("deal_events").count()) > 0
    history_fields: set[str] = set()
    logs: list[tuple[str, Iterator[tuple[pa.Table, pa.Table]]]] = []
    if batch.history is not None and batch.history.num_rows:
        history_fields |= {f for f in TRACKED_FIELDS if f in batch.history.column_names}
        logs.append(("history", _history_changes(batch.history)))
    rebuilt = batch.reconstructed
    if rebuilt is not None and had_events:
        rebuilt = _unknown_deals(store, rebuilt)
    if rebuilt is not None and rebuilt.num_rows:
        history_fields |= {f for f in TRACKED_FIELDS if f in rebuilt.column_names}
        logs.append(("reconstructed", _history_changes(rebuilt)))
    del rebuilt
    if batch.field_events is not None and batch.field_events.num_rows:
        # A log of single changes gives no first values: on a first import, each deal's
        # first logged old value is taken as its value since creation.
        created = None
        if not had_events and deals is not None and "created_at" in deals.column_names:
            created = deals.select(["deal_id", "created_at"])
        logs.append(("history", _canonical_field_events(batch.field_events, created)))
    # The generators now hold the only references: each log is freed once consumed.
    batch.history = batch.field_events = batch.reconstructed = None
    added = 0
    last_parts: list[pa.Table] = []
    for origin, log in logs:
        for events, last in log:
            if had_events:
                events = _not_stored(store, events)
            added += _insert_events(store, events, origin, import_id)
            # On a first import the latest value of each field is the last one just logged;
            # asking the store for it would scan every event again.
            last_parts.append(last)
            del events
            pa.default_memory_pool().release_unused()
    logged_latest = _last_by_field(last_parts) if not had_events else None
    del last_parts
    if deals is not None:
        for snapshot in _snapshot_changes(
            store, deals, as_of, history_fields, bool(logs), had_events, logged_latest
        ):
            added += _insert_events(store, snapshot, "snapshot", import_id)
    counts["deal_events"] = added
    return counts


# -- canonical tables -----------------------------------------------------------------------


def write_rows(store: Store, name: str, rows: pa.Table, import_id: int) -> int:
    """Replace rows with the same key; columns the batch does not provide keep their value."""
    spec = TABLES[name]
    rows = public_columns(rows)
    provided = [c for c in rows.column_names if c in spec.column_names]
    rows = rows.select(provided)
    rows = rows.append_column("import_id", pa.array(np.full(rows.num_rows, import_id, np.int64)))
    existing = store.table(name)
    if not spec.key or store.scalar(existing.count()) == 0:
        store.insert(name, rows)
        return rows.num_rows
    staged = store.stage(rows)
    keep_cols = [c for c in spec.column_names if c not in provided and c != "import_id"]
    if keep_cols:
        old = existing.select(*spec.key, *[existing[c].name(f"_old_{c}") for c in keep_cols])
        staged = staged.left_join(old, list(spec.key)).select(
            *[staged[c] for c in rows.column_names],
            *[ibis._[f"_old_{c}"].name(c) for c in keep_cols],
        )
    store.delete_matching(name, staged)
    store.insert(name, staged)
    return rows.num_rows


def _refresh_first_won(store: Store) -> None:
    store.backend.raw_sql(
        "UPDATE accounts SET first_won_date = ("
        "SELECT min(close_date) FROM deals WHERE deals.account_id = accounts.account_id "
        "AND deals.is_won)"
    )


# -- events ---------------------------------------------------------------------------------


def _history_changes(history: pa.Table) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Single-field changes in a log of full snapshots, one field at a time (to keep a large
    import's memory down): each step yields the field's changes, sorted by deal and time,
    and the field's last value per deal."""
    keys = [("deal_id", "ascending"), ("at", "ascending")]
    if "_order" in history.column_names:
        keys.append(("_order", "ascending"))
    if not is_sorted(history, [k for k, _ in keys]):
        history = history.sort_by(keys)
    # Slices of about a million rows that never split a deal: each slice's intermediate
    # arrays are small, and every deal's changes stay in order.
    deals = history.column("deal_id")
    start = 0
    while start < history.num_rows:
        end = min(start + _SLICE_ROWS, history.num_rows)
        while end < history.num_rows and deals[end].as_py() == deals[end - 1].as_py():
            end += 1
        yield from _slice_changes(history.slice(start, end - start))
        start = end


_SLICE_ROWS = 2_000_000


def _slice_changes(history: pa.Table) -> Iterator[tuple[pa.Table, pa.Table]]:
    """The changes of ``_history_changes`` for a slice that holds whole deals."""
    deal = history.column("deal_id").combine_chunks()
    at = history.column("at").combine_chunks().cast(pa.timestamp("s"))
    n = history.num_rows
    same_deal = np.zeros(n, dtype=bool)  # row i continues the deal of row i - 1
    if n > 1:
        same_deal[1:] = pc.equal(deal.slice(1), deal.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    last_rows = pa.array(np.flatnonzero(np.append(~same_deal[1:], True)) if n else [], pa.int64())
    for field in TRACKED_FIELDS:
        if field not in history.column_names:
            continue
        text = canonical_text(field, history.column(field))
        present = pc.is_valid(text).to_numpy(zero_copy_only=False)
        changed = present.copy()  # a deal's first row: a change when it has a value
        if n > 1:
            equal = pc.equal(text.slice(1), text.slice(0, n - 1))
            equal = pc.fill_null(equal, False).to_numpy(zero_copy_only=False)
            both_null = ~present[1:] & ~present[:-1]
            changed[1:] = np.where(same_deal[1:], ~equal & ~both_null, present[1:])
        rows = np.flatnonzero(changed)
        before = np.maximum(rows - 1, 0)
        has_before = same_deal[rows]
        old = pc.if_else(
            pa.array(has_before), text.take(pa.array(before)), pa.scalar(None, pa.string())
        )
        taken = pa.array(rows, pa.int64())
        events = pa.table(
            {
                "deal_id": deal.take(taken),
                "at": at.take(taken),
                "field": pa.repeat(pa.scalar(field, pa.string()), len(rows)),
                "old_value": old,
                "new_value": text.take(taken),
            }
        )
        last = pa.table(
            {
                "deal_id": deal.take(last_rows),
                "field": pa.repeat(pa.scalar(field, pa.string()), len(last_rows)),
                "at_last": at.take(last_rows),
                "new_value_last": text.take(last_rows),
            }
        )
        del text
        yield events, last


def _canonical_field_events(
    events: pa.Table, created: pa.Table | None
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """A log of single-field changes, values spelled canonically, one field at a time, sorted
    by deal and time, with each field's last value per deal.

    With ``created`` (deal_id, created_at), each deal's first change is preceded by its
    first value: the change's old value, from the deal's creation on.
    """
    fields = events.column("field").combine_chunks()
    for field in sorted(set(fields.unique().to_pylist()) & set(TRACKED_FIELDS)):
        one = events.filter(pc.equal(fields, field))
        changes = pa.table(
            {
                "deal_id": one.column("deal_id").cast(pa.string()),
                "at": one.column("at").cast(pa.timestamp("s")),
                "field": one.column("field").cast(pa.string()),
                "old_value": canonical_text(field, one.column("old_value")),
                "new_value": canonical_text(field, one.column("new_value")),
            }
        ).sort_by([("deal_id", "ascending"), ("at", "ascending")])
        last = _last_values(changes)
        if created is not None and changes.num_rows:
            changes = pa.concat_tables([_first_values(changes, created), changes])
        yield changes, last


def _first_values(changes: pa.Table, created: pa.Table) -> pa.Table:
    """For each deal of a sorted change log, its value before the first change, as an event
    at the deal's creation (or at that first change when the creation time is unknown)."""
    deal = changes.column("deal_id").combine_chunks()
    n = changes.num_rows
    first = np.ones(n, dtype=bool)
    if n > 1:
        first[1:] = ~pc.equal(deal.slice(1), deal.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    heads = changes.filter(pa.array(first)).join(created, "deal_id", join_type="left outer")
    heads = heads.filter(pc.is_valid(heads.column("old_value")))
    born = pc.cast(heads.column("created_at"), pa.timestamp("s"))
    at = pc.min_element_wise(pc.coalesce(born, heads.column("at")), heads.column("at"))
    return pa.table(
        {
            "deal_id": heads.column("deal_id"),
            "at": at,
            "field": heads.column("field"),
            "old_value": pa.nulls(heads.num_rows, pa.string()),
            "new_value": heads.column("old_value"),
        }
    ).sort_by("deal_id")


def _unknown_deals(store: Store, log: pa.Table) -> pa.Table:
    """The rows of ``log`` whose deal has no stored event yet."""
    ids = pa.table({"deal_id": pc.unique(log.column("deal_id").combine_chunks())})
    staged = store.stage(ids)
    known = store.table("deal_events").select("deal_id").distinct()
    fresh = store.to_arrow(staged.anti_join(known, "deal_id")).column("deal_id")
    return log.filter(pc.is_in(log.column("deal_id"), fresh.combine_chunks()))


def _not_stored(store: Store, events: pa.Table) -> pa.Table:
    """Drop events the store already holds (same deal, field, time and new value)."""
    staged = store.stage(events.append_column("_pos", pa.array(np.arange(events.num_rows))))
    existing = store.table("deal_events")
    fresh = staged.anti_join(
        existing,
        [
            staged.deal_id == existing.deal_id,
            staged.field == existing.field,
            staged.at == existing.at,
            staged.new_value.identical_to(existing.new_value),
        ],
    )
    positions = store.to_arrow(fresh.select("_pos").order_by("_pos")).column("_pos")
    return events.take(positions)


def _insert_events(store: Store, events: pa.Table, origin: str, import_id: int) -> int:
    """Append events in their given order; ``seq`` keeps that order for ties in time."""
    n = events.num_rows
    if n == 0:
        return 0
    base = store.next_value("deal_events", "seq")
    table = events.select(list(_EVENT_SCHEMA.names)).cast(_EVENT_SCHEMA)
    table = table.append_column("seq", pa.array(np.arange(base + 1, base + n + 1, dtype=np.int64)))
    store.insert("deal_events", table, {"origin": origin, "import_id": import_id})
    return n


def _last_values(events: pa.Table) -> pa.Table:
    """The last (deal, field, at, value) of a log that is in time order within each deal and field."""
    last = events.group_by(["deal_id", "field"], use_threads=False).aggregate(
        [
            ("at", "last", pc.ScalarAggregateOptions(skip_nulls=False)),
            ("new_value", "last", pc.ScalarAggregateOptions(skip_nulls=False)),
        ]
    )
    return last.select(["deal_id", "field", "at_last", "new_value_last"])


def _last_by_field(parts: list[pa.Table]) -> dict[str, pa.Table]:
    """Per-part last values grouped by field; a later part wins for the same deal and field."""
    by_field: dict[str, list[pa.Table]] = {}
    for part in parts:
        if part.num_rows:
            by_field.setdefault(part.column("field")[0].as_py(), []).append(part)
    combined: dict[str, pa.Table] = {}
    for field, tables in by_field.items():
        if len(tables) == 1:
            combined[field] = tables[0]
            continue
        merged = pa.concat_tables(tables)
        merged = merged.append_column("_n", pa.array(np.arange(merged.num_rows)))
        merged = merged.sort_by(
            [("deal_id", "ascending"), ("at_last", "ascending"), ("_n", "ascending")]
        )
        combined[field] = _last_values(
            merged.rename_columns(["deal_id", "field", "at", "new_value", "_n"]).drop_columns(
                ["_n"]
            )
        )
    return combined


def _latest_stored(store: Store, field: str) -> pa.Table:
    """The last value of ``field`` of every deal the store holds."""
    events = store.table("deal_events")
    events = events.filter(events.field == field)
    window = ibis.window(group_by="deal_id", order_by=[ibis.desc("at"), ibis.desc("seq")])
    ranked = events.mutate(_rank=ibis.row_number().over(window))
    latest = ranked.filter(ranked._rank == 0).select("deal_id", "field", "at", "new_value")
    return store.to_arrow(latest)


def _snapshot_changes(
    store: Store,
    deals: pa.Table,
    as_of: datetime,
    history_fields: set[str],
    logged: bool,
    stored: bool,
    logged_latest: dict[str, pa.Table] | None = None,
) -> Iterator[pa.Table]:
    """Events for every tracked value of ``deals`` that differs from what the store knows,
    one field at a time.

    A value is stamped with the snapshot's time. A field the CRM's log does not cover (the
    owner, in a Salesforce export) is stamped with the deal's creation time when the deal is
    new and the batch has a log: the log shows the deal's whole life, so a field without
    logged changes has held its value since creation.
    """
    n = deals.num_rows
    snap_at = pa.scalar(as_of, pa.timestamp("s"))
    created = (
        deals.column("created_at").combine_chunks().cast(pa.timestamp("s"))
        if "created_at" in deals.column_names
        else pa.nulls(n, pa.timestamp("s"))
    )
    deal_id = deals.column("deal_id").combine_chunks()
    for field in (f for f in TRACKED_FIELDS if f in deals.column_names):
        if logged and field not in history_fields:
            # First seen now, but the log shows the deal's whole life and never changed it.
            at = pc.min_element_wise(pc.fill_null(created, snap_at), snap_at)
        else:
            at = pa.array(np.full(n, np.datetime64(as_of, "s")), pa.timestamp("s"))
        snap = pa.table(
            {"deal_id": deal_id, "at": at, "new_value": canonical_text(field, deals.column(field))}
        )
        if logged_latest is not None:
            latest = logged_latest.get(field)
        else:
            latest = _latest_stored(store, field) if stored else None
        if latest is None or latest.num_rows == 0:
            snap = snap.filter(pc.is_valid(snap.column("new_value")))
            old = pa.nulls(snap.num_rows, pa.string())
            yield _events(
                snap.column("deal_id"), snap.column("at"), field, old, snap.column("new_value")
            )
            continue
        latest = latest.select([0, 2, 3]).rename_columns(["deal_id", "last_at", "last_value"])
        latest = latest.append_column("_known", pa.repeat(pa.scalar(True), latest.num_rows))
        joined = snap.join(latest, "deal_id", join_type="left outer")
        known = pc.fill_null(joined.column("_known"), False)
        value, last = joined.column("new_value"), joined.column("last_value")
        differs = pc.fill_null(pc.not_equal(value, last), True)
        both_null = pc.and_(pc.is_null(value), pc.is_null(last))
        new_known = pc.and_(pc.invert(known), pc.is_valid(value))
        changed = pc.or_(new_known, pc.and_(known, pc.and_(differs, pc.invert(both_null))))
        joined = joined.filter(changed).sort_by("deal_id")
        # A value that differs from a known one changed by the time of the snapshot (never
        # before the last known change); a value seen for the first time keeps its stamp.
        moved = pc.max_element_wise(snap_at, pc.coalesce(joined.column("last_at"), snap_at))
        at = pc.if_else(pc.is_valid(joined.column("last_at")), moved, joined.column("at"))
        yield _events(
            joined.column("deal_id"),
            at,
            field,
            joined.column("last_value"),
            joined.column("new_value"),
        )


def _events(deal_id: pa.Array, at: pa.Array, field: str, old: pa.Array, new: pa.Array) -> pa.Table:
    return pa.table(
        {
            "deal_id": deal_id,
            "at": at,
            "field": pa.repeat(pa.scalar(field, pa.string()), len(deal_id)),
            "old_value": old,
            "new_value": new,
        }
    )


# -- as of ----------------------------------------------------------------------------------


def deals_as_of(store: Store, at: datetime, only: ir.Table | None = None) -> ir.Table:
    """Every deal that existed at ``at``, with its tracked fields as they stood then
    (only the deals whose ``deal_id`` is in ``only``, when given).

    Each field's value is the ``new_value`` of its latest event at or before ``at`` (ties in
    time broken by ``seq``; times are compared to the second). ``is_closed`` and ``is_won``
    follow from the stage as of ``at`` (via ``stages``); deals with no event at or before
    ``at`` are not included.
    """
    events = store.table("deal_events")
    events = events.filter(events.at <= ibis.literal(at, "timestamp"))
    if only is not None:
        events = events.semi_join(only, "deal_id")
    order = event_order(events)
    wide = events.group_by("deal_id").aggregate(
        **{
            f: store.last_of(events.new_value, order, where=events.field == f)
            for f in TRACKED_FIELDS
        }
    )
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


def event_order(events: ir.Table) -> ir.IntegerValue:
    """One integer that orders events as ``(at, seq)`` do: seconds since 1970 x 10^9 + seq."""
    return events.at.epoch_seconds().cast("int64") * 1_000_000_000 + events.seq


def deals_at(store: Store, at: datetime | None) -> ir.Table:
    """Every deal as it stood at ``at``, with the columns deal_id, account_id, motion,
    created_at, the tracked fields, is_closed, is_won, name and pipeline.

    Deals with no change recorded after ``at`` are read from the ``deals`` table as they
    are (those created after ``at`` left out); only deals that changed after ``at`` are
    rebuilt from ``deal_events`` by :func:`deals_as_of`. A report as of the latest import
    reads the ``deals`` table alone; one of last week rebuilds the few deals touched since.
    The result is kept for the store's next readers until the next write.
    """
    if at is None:
        return _current_deals(store, None)
    events = store.table("deal_events")
    changed = events.filter(events.at > ibis.literal(at, "timestamp")).select("deal_id").distinct()
    if not store.scalar(changed.count()):
        return _current_deals(store, at)
    return store.remember(("deals_at", at), lambda: _deals_at(store, at, changed))


def _deals_at(store: Store, at: datetime, changed: ir.Table) -> ir.Table:
    columns = _DEAL_COLUMNS
    deals = store.table("deals")
    past = deals_as_of(store, at, only=changed)
    names = deals.select(_id=deals.deal_id, name=deals.name, pipeline=deals.pipeline)
    rebuilt = past.join(names, past.deal_id == names._id).select(*columns)
    current = _current_deals(store, at)
    return current.anti_join(changed, "deal_id").select(*columns).union(rebuilt)


_DEAL_COLUMNS = (
    "deal_id", "account_id", "motion", "created_at", *TRACKED_FIELDS, "is_closed", "is_won",
    "name", "pipeline",
)  # fmt: skip


def _current_deals(store: Store, at: datetime | None) -> ir.Table:
    deals = store.table("deals")
    current = deals.mutate(
        is_closed=deals.is_closed.fill_null(False), is_won=deals.is_won.fill_null(False)
    ).select(*_DEAL_COLUMNS)
    if at is not None:
        current = current.filter(
            current.created_at.isnull() | (current.created_at <= ibis.literal(at, "timestamp"))
        )
    return current
