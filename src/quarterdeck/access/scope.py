"""The access rule: which rows of each table a viewer may see. This is the only place
it is written; ``Workspace.as_viewer`` hands it to the store, whose ``table()`` applies it
to every read, so every metric, report, record and page is narrowed alike.

* ceo, leader, admin, analyst see every deal.
* A rep sees the deals they own (``deals.owner_id`` = the login's ``user_id``).
* A manager sees the deals owned by themselves and by the users of their team: the users
  whose ``users.team`` is the manager's team or whose ``users.manager_id`` is the manager.
* Ownership is the deal's current owner: a rep sees the whole history of the deals they
  own now, and none of a deal handed to someone else.

What follows from the deals, for a rep or a manager (the *people* are the owners above):

==============  ==================================================================
table           rows seen
==============  ==================================================================
deals           owned by the people
deal_events     of those deals
activities      of those deals, or of their accounts when not tied to a deal
accounts        the accounts of those deals
users           the people
targets         the rep's own target (scope rep) for a rep, the team's (scope team)
                for a manager, each also standing in as *the* (company) target;
                plus the rep targets of the people. Segment and motion targets are
                the company's and are not shown.
forecast_calls  the calls the viewer made
forecasts       none (saved forecasts are the company's)
items           owned by one of the people (by user id, or by the email of their
                login or CRM user), or linked to at least one deal and to none the
                viewer cannot see
item_updates    of those items
meetings        every meeting, without its notes (the CEO's and the leader's record)
audit_log       none
==============  ==================================================================

For every role: ``logins`` shows only the viewer's own login (all to an admin), without
password hashes; ``login_sessions`` and ``login_failures`` show nothing. Settings, stages
and imports are shown to all.

The people are read from ``users`` when the view is made (once per web request).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from quarterdeck.access.roles import Viewer
from quarterdeck.store import Store

__all__ = ["ViewerScope", "item_visible", "scope_for"]


def _among(column: ir.Column, values: Iterable[str]) -> ir.BooleanValue:
    values = sorted(set(values))
    if not values:
        return ibis.literal(False)
    return column.isin(values)


def item_visible(
    owner: str | None, deal_ids: Iterable[str], people: frozenset[str], visible: Iterable[str]
) -> bool:
    """Whether an item with ``owner`` and linked ``deal_ids`` is seen by a viewer whose
    people (user ids and own email) are ``people`` and who sees the deals ``visible``."""
    deals = set(deal_ids)
    if owner is not None and (owner in people or owner.strip().lower() in people):
        return True
    return bool(deals) and deals <= set(visible)


@dataclass(frozen=True)
class ViewerScope:
    """What ``viewer`` sees. ``owners`` are the user ids whose deals a rep or manager
    sees (the viewer's people); they are ignored when the viewer sees all."""

    viewer: Viewer
    owners: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    """The emails of the people (their logins' and CRM users'), for item owners."""

    @property
    def key(self) -> Hashable:
        if self.viewer.sees_all:
            return ("all", self.viewer.role == "admin", self.viewer.email)
        return ("owners", self.viewer.email, self.owners)

    @property
    def data_key(self) -> Hashable:
        """What the viewer's figures of the deal data (deals, their history, activities,
        accounts, users, targets, saved forecasts) depend on: viewers with the same data
        key see the same figures, so they can share one computation. Items, calls and
        logins depend on the viewer's email too, so they are not covered."""
        if self.viewer.sees_all:
            return ("all",)
        v = self.viewer
        return ("owners", v.role, v.team, v.user_id, self.owners)

    @property
    def people(self) -> frozenset[str]:
        """Who counts as the viewer's for items: the owners' user ids and emails, and the
        viewer's email."""
        return frozenset({*self.owners, *self.emails, self.viewer.email})

    def narrow(self, name: str, table: ir.Table, store: Store) -> ir.Table:
        """The rows of ``name`` (``table``, unnarrowed) the viewer sees (the rule in the
        module docstring); ``store`` is the unscoped store, to read what it narrows by."""
        if name == "logins":
            hidden = table.mutate(password_hash=ibis.null().cast(table.schema()["password_hash"]))
            if self.viewer.role == "admin":
                return hidden
            return hidden.filter(hidden.email == self.viewer.email)
        if name in ("login_sessions", "login_failures"):
            return table.filter(ibis.literal(False))
        if self.viewer.sees_all:
            return table
        narrowing = _NARROW.get(name)
        return table if narrowing is None else narrowing(self, table, store)

    # -- per table --------------------------------------------------------------------

    def deals(self, store: Store) -> ir.Table:
        """The deals the viewer sees (``store`` unscoped)."""
        deals = store.table("deals")
        return deals.filter(_among(deals.owner_id, self.owners))

    def _deals(self, table: ir.Table, store: Store) -> ir.Table:
        return table.filter(_among(table.owner_id, self.owners))

    def _by_deal(self, table: ir.Table, store: Store) -> ir.Table:
        return table.filter(table.deal_id.isin(self.deals(store).deal_id))

    def _accounts(self, table: ir.Table, store: Store) -> ir.Table:
        return table.filter(table.account_id.isin(self.deals(store).account_id))

    def _activities(self, table: ir.Table, store: Store) -> ir.Table:
        deals = self.deals(store)
        of_deal = table.deal_id.isin(deals.deal_id)
        of_account = table.deal_id.isnull() & table.account_id.isin(deals.account_id)
        return table.filter((of_deal | of_account).fill_null(False))

    def _users(self, table: ir.Table, store: Store) -> ir.Table:
        return table.filter(_among(table.user_id, self.owners))

    def _targets(self, table: ir.Table, store: Store) -> ir.Table:
        viewer = self.viewer
        if viewer.role == "manager" and viewer.team is not None:
            own = table.filter(table.scope == "team", table.scope_id == viewer.team)
        elif viewer.role == "rep" and viewer.user_id is not None:
            own = table.filter(table.scope == "rep", table.scope_id == viewer.user_id)
        else:
            own = table.filter(ibis.literal(False))
        schema = table.schema()
        as_company = own.mutate(
            scope=ibis.literal("company").cast(schema["scope"]),
            scope_id=ibis.literal("").cast(schema["scope_id"]),
        )
        reps = table.filter(table.scope == "rep", _among(table.scope_id, self.owners))
        if viewer.role == "manager":
            return own.union(as_company).union(reps)
        return reps.union(as_company)

    def _calls(self, table: ir.Table, store: Store) -> ir.Table:
        mine = {self.viewer.email, *([self.viewer.user_id] if self.viewer.user_id else [])}
        return table.filter(_among(table.user_id, mine))

    def _none(self, table: ir.Table, store: Store) -> ir.Table:
        return table.filter(ibis.literal(False))

    def visible_items(self, store: Store) -> list[str]:
        """The ids of the items the viewer sees."""
        columns = store.table("items").select("item_id", "owner_id", "deal_ids")
        items = store.to_arrow(columns).to_pylist()
        linked = {d for row in items for d in (row["deal_ids"] or "").split(",") if d}
        deals = self.deals(store)
        found = deals.filter(_among(deals.deal_id, linked)).select("deal_id")
        seen = {r["deal_id"] for r in store.to_arrow(found).to_pylist()}
        return [
            row["item_id"]
            for row in items
            if item_visible(
                row["owner_id"],
                [d for d in (row["deal_ids"] or "").split(",") if d],
                self.people,
                seen,
            )
        ]

    def _items(self, table: ir.Table, store: Store) -> ir.Table:
        return table.filter(_among(table.item_id, self.visible_items(store)))

    def _meetings(self, table: ir.Table, store: Store) -> ir.Table:
        return table.mutate(notes=ibis.null().cast(table.schema()["notes"]))


_NARROW: dict[str, Callable[[ViewerScope, ir.Table, Store], ir.Table]] = {
    "deals": ViewerScope._deals,
    "deal_events": ViewerScope._by_deal,
    "activities": ViewerScope._activities,
    "accounts": ViewerScope._accounts,
    "users": ViewerScope._users,
    "targets": ViewerScope._targets,
    "forecast_calls": ViewerScope._calls,
    "forecasts": ViewerScope._none,
    "items": ViewerScope._items,
    "item_updates": ViewerScope._items,
    "meetings": ViewerScope._meetings,
    "audit_log": ViewerScope._none,
}
"""The tables a rep's or manager's view narrows, and how; the others are seen whole."""


def scope_for(store: Store, viewer: Viewer) -> ViewerScope:
    """The scope of ``viewer``, its people read from the store's ``users`` now."""
    if viewer.sees_all or viewer.user_id is None:
        return ViewerScope(viewer, ())
    owners = {viewer.user_id}
    if viewer.role == "manager":
        users = store.unscoped.table("users")
        team = users.manager_id == viewer.user_id
        if viewer.team is not None:
            team = team | (users.team == viewer.team)
        rows = store.to_arrow(users.filter(team.fill_null(False)).select("user_id")).to_pylist()
        owners |= {r["user_id"] for r in rows}
    users, logins = store.unscoped.table("users"), store.unscoped.table("logins")
    crm = users.filter(_among(users.user_id, owners)).select(email=users.email.cast("string"))
    own = logins.filter(_among(logins.user_id, owners)).select(email=logins.email.cast("string"))
    found = store.to_arrow(crm.union(own)).to_pylist()
    emails = {r["email"].strip().lower() for r in found if r["email"]}
    return ViewerScope(viewer, tuple(sorted(owners)), tuple(sorted(emails)))
