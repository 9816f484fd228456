"""The one entry point: everything the CLI, the web app and a notebook do goes through here."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from quarterdeck.importer import ImportRequest, ImportResult, run_import
from quarterdeck.store import Store

__all__ = ["Status", "Workspace"]

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Status:
    """How much the database holds: the numbers ``quarterdeck status`` prints."""

    database: str
    schema_version: int
    deals: int
    deal_events: int
    accounts: int
    users: int
    activities: int
    targets: int
    imports: int
    won_amount: Decimal
    open_amount: Decimal
    last_import: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "schema_version": self.schema_version,
            "deals": self.deals,
            "deal_events": self.deal_events,
            "accounts": self.accounts,
            "users": self.users,
            "activities": self.activities,
            "targets": self.targets,
            "imports": self.imports,
            "won_amount": str(self.won_amount),
            "open_amount": str(self.open_amount),
            "last_import": self.last_import.isoformat() if self.last_import else None,
        }


class Workspace:
    """A Quarterdeck database and the jobs done on it."""

    def __init__(self, db: str | os.PathLike[str] | None = None, *, read_only: bool = False):
        self.store = Store(db, read_only=read_only)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def import_files(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        format: str | None = None,
        mapping: str | os.PathLike[str] | None = None,
        as_of: datetime | None = None,
        max_rejects: int = 0,
        date_order: str | None = None,
        progress: Progress | None = None,
    ) -> ImportResult:
        """Import CRM files or folders, all or nothing (see ``quarterdeck.importer``)."""
        request = ImportRequest(
            paths=tuple(Path(p) for p in paths),
            format=format,
            mapping=Path(mapping) if mapping else None,
            as_of=as_of,
            max_rejects=max_rejects,
            date_order=date_order,
        )
        return run_import(self.store, request, progress)

    def status(self) -> Status:
        store = self.store
        deals = store.table("deals")
        imports = store.table("imports")

        def count(name: str) -> int:
            return int(store.scalar(store.table(name).count()))

        won = store.scalar(deals.filter(deals.is_won).amount.sum())
        open_ = store.scalar(deals.filter(~deals.is_closed).amount.sum())
        last = store.scalar(imports.finished_at.max())
        return Status(
            database=store.location,
            schema_version=store.schema_version(),
            deals=count("deals"),
            deal_events=count("deal_events"),
            accounts=count("accounts"),
            users=count("users"),
            activities=count("activities"),
            targets=count("targets"),
            imports=count("imports"),
            won_amount=_money(won),
            open_amount=_money(open_),
            last_import=_datetime(last),
        )


def _money(value: object) -> Decimal:
    if value is None or (isinstance(value, float) and value != value):
        return Decimal("0.00")
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _datetime(value: object) -> datetime | None:
    if value is None or value != value:
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()  # type: ignore[no-any-return]
    return value if isinstance(value, datetime) else None
