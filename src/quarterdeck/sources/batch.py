"""What an importer hands to the store: canonical rows, history, rejects and notices.

Every format (Salesforce, HubSpot, a mapped CSV...) reads its files into one
``ImportBatch``; from there on, the import is the same for all of them: the batch is
checked, diffed against what the store holds and written in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.sources.reading import CsvFile, Reject
from quarterdeck.sources.values import Cells

__all__ = [
    "ImportBatch",
    "Notice",
    "append",
    "drop_duplicates",
    "finish_rows",
    "is_sorted",
    "keep",
    "public_columns",
    "skipped_rows",
]


@dataclass(frozen=True)
class Notice:
    """Rows that were kept but deserve the user's eye (a data-quality warning)."""

    file: str
    column: str | None
    rows: int
    message: str
    lines: tuple[int, ...] = ()

    def text(self) -> str:
        where = self.file + (f", column {self.column}" if self.column else "")
        sample = ""
        if self.lines:
            shown = ", ".join(str(n) for n in self.lines[:5])
            sample = f" (lines {shown}{', ...' if self.rows > len(self.lines[:5]) else ''})"
        if self.rows == 0:
            return f"{where}: {self.message}{sample}"
        message = self.message
        if self.rows == 1:
            verb, _, rest = message.partition(" ")
            message = f"{_SINGULAR.get(verb, verb)} {rest}"
        return f"{where}: {self.rows:,} row{'s' if self.rows != 1 else ''} {message}{sample}"


_SINGULAR = {"are": "is", "have": "has", "name": "names", "repeat": "repeats", "close": "closes"}
"""Notice messages start with a plural verb ("are deleted records"); one row takes the singular."""


@dataclass
class ImportBatch:
    """Canonical rows read from one set of files, ready to be written together.

    Tables use the column names of ``quarterdeck.model``; a column a format does not
    provide is simply absent (and left as the store has it), which is different from a
    column that is present and empty. ``history`` is the CRM's own log as full snapshots
    (deal_id, at and any tracked fields); ``field_events`` is a log of single-field changes
    (deal_id, at, field, old_value, new_value as text). ``reconstructed`` has the shape of
    ``history`` but is rebuilt from each deal's dates by the importer, for an export with no
    log; it is used only for deals the store does not know yet.
    """

    format: str
    files: list[CsvFile]
    as_of: datetime | None = None
    deals: pa.Table | None = None
    history: pa.Table | None = None
    field_events: pa.Table | None = None
    reconstructed: pa.Table | None = None
    accounts: pa.Table | None = None
    users: pa.Table | None = None
    stages: pa.Table | None = None
    activities: pa.Table | None = None
    targets: pa.Table | None = None
    rejects: list[Reject] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return sum(f.num_rows for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return len({(r.file, r.line) for r in self.rejects})


def append(table: pa.Table | None, more: pa.Table | None) -> pa.Table | None:
    """``table`` followed by ``more`` (either may be None); columns one lacks are null."""
    if table is None:
        return more
    if more is None:
        return table
    return pa.concat_tables([table, more], promote_options="permissive")


def public_columns(table: pa.Table) -> pa.Table:
    """``table`` without the importer's bookkeeping columns (names starting with _)."""
    return table.drop_columns([c for c in table.column_names if c.startswith("_")])


def skipped_rows(
    cells: Cells, batch: ImportBatch, column: str, message: str, *, when: bool = True
) -> np.ndarray:
    """Rows whose true/false ``column`` equals ``when`` (an empty cell counts as the other
    value), noted in ``batch`` with ``message``; all False when the file lacks the column."""
    if not cells.has(column):
        return np.zeros(cells.rows, dtype=bool)
    flags = pc.fill_null(cells.boolean(column), not when).to_numpy(zero_copy_only=False)
    skip = flags if when else ~flags
    if skip.any():
        batch.notices.append(Notice(cells.file.name, column, int(skip.sum()), message))
    return np.asarray(skip, dtype=bool)


def finish_rows(
    cells: Cells,
    batch: ImportBatch,
    columns: dict[str, pa.Array],
    key: str,
    what: str,
    column: str | None = "Id",
    skip: np.ndarray | None = None,
) -> pa.Table:
    """The canonical rows of one file, without its unreadable rows (rejected in ``batch``),
    without the rows in ``skip`` (such as deleted records, see ``skipped_rows``) and with one
    row per ``key`` (see ``drop_duplicates``). ``column`` names the key in the file."""
    table = pa.table({**columns, "_row": pa.array(np.arange(cells.rows, dtype=np.int64))})
    dropped = cells.rejected() if skip is None else cells.rejected() | skip
    table = keep(table, dropped)
    batch.rejects.extend(cells.rejects())
    table, duplicates = drop_duplicates(
        cells.file, table, key, what=what, notices=batch.notices, column=column
    )
    batch.rejects.extend(duplicates)
    return table


def keep(table: pa.Table, rejected: np.ndarray) -> pa.Table:
    """The rows of ``table`` not marked in ``rejected``."""
    if not rejected.any():
        return table
    return table.filter(pa.array(~rejected))


def drop_duplicates(
    file: CsvFile,
    table: pa.Table,
    key: str,
    *,
    what: str,
    notices: list[Notice],
    column: str | None = None,
) -> tuple[pa.Table, list[Reject]]:
    """Keep one row per ``key``: exact repeats are dropped with a notice; rows that share a
    key but differ are all rejected, since nobody can tell which one is right."""
    if table.num_rows == 0:
        return table, []
    keys = table.column(key)
    counts = pc.value_counts(keys)
    repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    if len(repeated) == 0:
        return table, []
    rows = np.flatnonzero(pc.is_in(keys, value_set=repeated).to_numpy(zero_copy_only=False))
    line_column = table.column("_row").to_numpy() if "_row" in table.column_names else rows
    by_key: dict[object, list[int]] = {}
    for row in rows.tolist():
        by_key.setdefault(keys[row].as_py(), []).append(row)
    drop = np.zeros(table.num_rows, dtype=bool)
    rejects: list[Reject] = []
    repeats = 0
    data = table.drop_columns([c for c in ("_row",) if c in table.column_names])
    for value, members in by_key.items():
        records = [tuple(data.slice(m, 1).to_pylist()[0].values()) for m in members]
        if len(set(records)) == 1:
            drop[members[1:]] = True
            repeats += len(members) - 1
            continue
        lines = [file.line_of(int(line_column[m])) for m in members]
        for member, line in zip(members, lines, strict=True):
            others = ", ".join(str(n) for n in lines if n != line)
            rejects.append(
                Reject(
                    file.name,
                    line,
                    column or key,
                    str(value),
                    f"duplicate {what} with different values (also on line {others})",
                )
            )
            drop[member] = True
    if repeats:
        notices.append(
            Notice(
                file.name, column or key, repeats, f"repeat an earlier {what} exactly; read once"
            )
        )
    return table.filter(pa.array(~drop)), rejects


def is_sorted(table: pa.Table, columns: list[str]) -> bool:
    """Whether ``table`` is already in ascending order of ``columns`` (nulls not allowed)."""
    n = table.num_rows
    if n < 2:
        return True
    decided = np.zeros(n - 1, dtype=bool)  # an earlier column already orders the pair
    for name in columns:
        column = table.column(name).combine_chunks()
        if column.null_count:
            return False
        head, tail = column.slice(0, n - 1), column.slice(1)
        less = pc.less(head, tail).to_numpy(zero_copy_only=False)
        greater = pc.greater(head, tail).to_numpy(zero_copy_only=False)
        if (greater & ~decided).any():
            return False
        decided |= less
    return True
