"""Browsing the data as it stands: deals by filter, one deal with its whole history, the log
of imports.

These are the reads behind the web app's pipeline, deal and import pages (and any script
that wants the same lists). They go through ``store.table``, so a Workspace seen through a
viewer's eyes narrows them like every metric: a deal outside the viewer's scope is simply
not there, and asking for it is the same :class:`~quarterdeck.errors.NotFound` as an id
that never existed.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import ibis

from quarterdeck.errors import InputError, NotFound
from quarterdeck.store import Store

__all__ = [
    "DEAL_FILTERS",
    "DealEvent",
    "DealFilter",
    "DealLine",
    "DealListing",
    "DealRecord",
    "FilterScope",
    "ImportLine",
    "deal_listing",
    "deal_record",
    "deal_records",
    "import_log",
]

DEAL_FILTERS = ("team", "owner", "segment", "motion", "stage")
"""What a deal listing can be narrowed by: the owner's team, the owner (a user id), the
account's segment, the deal's motion and its stage."""

NARROWING = ("team", "owner", "segment", "motion", "stage")
"""The filters that narrow the deals a report reads (``FilterScope``), not only a listing."""

LISTING_LIMIT = 500
"""A listing shows at most this many deals, largest first; ``total`` counts them all."""


@dataclass(frozen=True)
class DealFilter:
    """Which deals to list: each field narrows (None: any). ``ids`` lists those deals only;
    ``status`` is open, won, lost or None for all."""

    team: str | None = None
    owner: str | None = None
    segment: str | None = None
    motion: str | None = None
    stage: str | None = None
    status: str | None = "open"
    ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in (None, "open", "won", "lost"):
            raise InputError(f"deal status {self.status!r}: expected open, won, lost or all")
        if isinstance(self.ids, str):
            raise InputError("deal ids must be a list of ids")
        object.__setattr__(self, "ids", tuple(i for i in self.ids if i))

    @property
    def narrowing(self) -> DealFilter:
        """This filter's part that narrows reports (team, rep, segment, motion, stage)."""
        return DealFilter(**{name: getattr(self, name) for name in NARROWING}, status=None)

    @property
    def narrows(self) -> bool:
        return any(getattr(self, name) for name in NARROWING)


@dataclass(frozen=True)
class FilterScope:
    """A store scope (``Store.scoped``) that narrows every report to the deals a filter
    keeps: deals whose owner, owner's team, account's segment, motion and current stage
    match, their history and activities; within what ``inner`` (the viewer's scope, if
    any) lets through. So the waterfall and the ledger of the pipeline page follow its
    filters with the metrics' own code."""

    filter: DealFilter
    inner: Any = None

    @property
    def key(self) -> Hashable:
        return ("filter", self.inner.key if self.inner is not None else None, self.filter)

    def narrow(self, name: str, table: Any, store: Store) -> Any:
        if self.inner is not None:
            table = self.inner.narrow(name, table, store)
        if name == "deals":
            return self._kept(table, store)
        if name in ("deal_events", "activities"):
            deals = store.table("deals")
            if self.inner is not None:
                deals = self.inner.narrow("deals", deals, store)
            return table.filter(table.deal_id.isin(self._kept(deals, store).deal_id))
        return table

    def _kept(self, deals: Any, store: Store) -> Any:
        """The rows of ``deals`` the filter keeps (``store`` unscoped, for the owners'
        teams and the accounts' segments)."""
        f = self.filter
        for column in ("owner", "motion", "stage"):
            wanted = getattr(f, column)
            if wanted:
                deals = deals.filter(
                    deals[f"{column}_id" if column == "owner" else column] == wanted
                )
        if f.team:
            users = store.table("users")
            deals = deals.filter(deals.owner_id.isin(users.filter(users.team == f.team).user_id))
        if f.segment:
            accounts = store.table("accounts")
            deals = deals.filter(
                deals.account_id.isin(accounts.filter(accounts.segment == f.segment).account_id)
            )
        return deals


@dataclass(frozen=True)
class DealLine:
    """One deal as a listing shows it (names resolved, empty ones as None)."""

    deal_id: str
    name: str | None
    account_id: str | None
    account: str | None
    segment: str | None
    owner_id: str | None
    owner: str | None
    team: str | None
    motion: str | None
    stage: str | None
    forecast_category: str | None
    amount: Decimal | None
    close_date: date | None
    created_at: datetime | None
    is_closed: bool
    is_won: bool

    @property
    def status(self) -> str:
        return "won" if self.is_won else "lost" if self.is_closed else "open"


@dataclass(frozen=True)
class DealListing:
    """The deals a filter keeps, largest first (at most ``LISTING_LIMIT``), how many there
    are in all and what they add up to, and the choices each filter offers."""

    filter: DealFilter
    deals: tuple[DealLine, ...]
    total: int
    amount: Decimal
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class DealEvent:
    """One change in a deal's history (see GLOSSARY: Deal event)."""

    at: datetime
    field: str
    old_value: str | None
    new_value: str | None
    origin: str | None


@dataclass(frozen=True)
class DealRecord:
    """A deal as it stands now, with every change of its tracked fields, oldest first."""

    deal: DealLine
    events: tuple[DealEvent, ...]
    loss_reason: str | None
    source: str | None
    product: str | None


@dataclass(frozen=True)
class ImportLine:
    """One line of the import log."""

    import_id: int
    format: str | None
    files: tuple[str, ...]
    as_of: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    warnings: int
    rejects_path: str | None
    events_added: int


def _joined(store: Store) -> Any:
    """Deals with their account's name and segment and their owner's name and team."""
    deals = store.table("deals")
    accounts = store.table("accounts").select(
        acc_id="account_id", account="name", segment="segment"
    )
    users = store.table("users").select(usr_id="user_id", owner="name", team="team")
    joined = deals.left_join(accounts, deals.account_id == accounts.acc_id).left_join(
        users, deals.owner_id == users.usr_id
    )
    return joined.select(
        "deal_id",
        "name",
        "account_id",
        "account",
        "segment",
        "owner_id",
        "owner",
        "team",
        "motion",
        "stage",
        "forecast_category",
        "amount",
        "close_date",
        "created_at",
        "is_closed",
        "is_won",
        "loss_reason",
        "source",
        "product",
    )


def _line(row: dict[str, Any]) -> DealLine:
    return DealLine(
        deal_id=row["deal_id"],
        name=row["name"],
        account_id=row["account_id"],
        account=row["account"],
        segment=row["segment"],
        owner_id=row["owner_id"],
        owner=row["owner"],
        team=row["team"],
        motion=row["motion"],
        stage=row["stage"],
        forecast_category=row["forecast_category"],
        amount=row["amount"],
        close_date=row["close_date"],
        created_at=row["created_at"],
        is_closed=bool(row["is_closed"]),
        is_won=bool(row["is_won"]),
    )


def deal_listing(store: Store, request: DealFilter, limit: int = LISTING_LIMIT) -> DealListing:
    """The deals ``request`` keeps, largest first, with their count and total amount."""
    table = _joined(store)
    base = table
    if request.status == "open":
        base = base.filter(~base.is_closed.fill_null(False))
    elif request.status == "won":
        base = base.filter(base.is_won.fill_null(False))
    elif request.status == "lost":
        base = base.filter(base.is_closed.fill_null(False) & ~base.is_won.fill_null(False))
    if request.ids:
        base = base.filter(base.deal_id.isin(list(request.ids)))
    choices: dict[str, tuple[str, ...]] = {}
    columns = {"owner": "owner_id"}
    for name in DEAL_FILTERS:
        column = columns.get(name, name)
        values = store.to_arrow(base.select(value=base[column]).distinct()).column("value")
        choices[name] = tuple(sorted(v for v in values.to_pylist() if v))
    kept = base
    for name in DEAL_FILTERS:
        wanted = getattr(request, name)
        if wanted:
            kept = kept.filter(kept[columns.get(name, name)] == wanted)
    totals = store.to_arrow(kept.aggregate(n=kept.count(), amount=kept.amount.sum())).to_pylist()[0]
    rows = store.to_arrow(
        kept.order_by([ibis.desc(kept.amount.fill_null(0)), "deal_id"]).limit(limit)
    ).to_pylist()
    amount = totals["amount"]
    return DealListing(
        filter=request,
        deals=tuple(_line(r) for r in rows),
        total=int(totals["n"] or 0),
        amount=Decimal("0.00") if amount is None else Decimal(amount).quantize(Decimal("0.01")),
        choices=choices,
    )


def deal_record(store: Store, deal_id: str) -> DealRecord:
    """``deal_id`` as it stands with its whole history; :class:`NotFound` when the store (as
    the reader may see it) holds no such deal."""
    if not isinstance(deal_id, str) or not deal_id.strip():
        raise InputError("a deal id is needed")
    found = deal_records(store, [deal_id])
    if deal_id not in found:
        raise NotFound(f"no deal {deal_id!r}")
    return found[deal_id]


def deal_records(store: Store, deal_ids: Iterable[str]) -> dict[str, DealRecord]:
    """The deals of ``deal_ids`` the store (as the reader may see it) holds, each with its
    whole history, in two queries whatever their number; unknown ids are left out."""
    wanted = sorted({d for d in deal_ids if isinstance(d, str) and d.strip()})
    if not wanted:
        return {}
    table = _joined(store)
    rows = store.to_arrow(table.filter(table.deal_id.isin(wanted))).to_pylist()
    events = store.table("deal_events")
    history: dict[str, list[DealEvent]] = {r["deal_id"]: [] for r in rows}
    for e in store.to_arrow(
        events.filter(events.deal_id.isin(list(history)))
        .order_by(["deal_id", "at", "seq"])
        .select("deal_id", "at", "field", "old_value", "new_value", "origin")
    ).to_pylist():
        deal = e.pop("deal_id")
        history[deal].append(DealEvent(**e))
    return {
        row["deal_id"]: DealRecord(
            deal=_line(row),
            events=tuple(history[row["deal_id"]]),
            loss_reason=row["loss_reason"],
            source=row["source"],
            product=row["product"],
        )
        for row in rows
    }


def import_log(store: Store, limit: int = 100) -> tuple[ImportLine, ...]:
    """The latest ``limit`` imports, newest first."""
    table = store.table("imports")
    rows = store.to_arrow(table.order_by(ibis.desc("import_id")).limit(limit)).to_pylist()
    return tuple(
        ImportLine(
            import_id=int(r["import_id"]),
            format=r["format"],
            files=tuple((r["paths"] or "").splitlines()),
            as_of=r["as_of"],
            started_at=r["started_at"],
            finished_at=r["finished_at"],
            rows_read=int(r["rows_read"] or 0),
            rows_accepted=int(r["rows_accepted"] or 0),
            rows_rejected=int(r["rows_rejected"] or 0),
            warnings=int(r["warnings"] or 0),
            rejects_path=r["rejects_path"],
            events_added=int(r["events_added"] or 0),
        )
        for r in rows
    )
