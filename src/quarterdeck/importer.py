"""Running an import: find the files, read them in their format, write all or nothing.

The steps are the same for every format: read and check every row, set aside what cannot
be read (with file, line, column and reason) in a rejects file beside the database, stop
if there are more rejects than the user allows, then write everything in one transaction
together with a line in the ``imports`` log. A process killed at any moment leaves the
database as it was before the import started.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from quarterdeck.errors import DataError, InputError, RejectsExceeded
from quarterdeck.history import apply_batch, write_rows
from quarterdeck.sources import (
    CsvFile,
    Format,
    ImportBatch,
    Notice,
    ReadOptions,
    Reject,
    read_csv,
    registered,
)
from quarterdeck.store import Store

__all__ = ["ImportRequest", "ImportResult", "run_import"]

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class ImportRequest:
    """One import: the files or folders, and what the user said about them."""

    paths: tuple[Path, ...]
    format: str | None = None
    mapping: Path | None = None
    as_of: datetime | None = None
    max_rejects: int = 0
    date_order: str | None = None


@dataclass(frozen=True)
class ImportResult:
    """What an import did, for the CLI summary and for scripts."""

    import_id: int | None
    format: str
    files: tuple[str, ...]
    as_of: datetime | None
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    notices: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    rejects_path: Path | None = None
    skipped: str | None = None
    """Why nothing was written (the same files were imported before), or None."""


def run_import(
    store: Store, request: ImportRequest, progress: Progress | None = None
) -> ImportResult:
    """Import ``request.paths`` into ``store``; raise ``InputError`` if it cannot be done.

    Reading and writing share one transaction: large plain tables (such as activities) are
    written as soon as their file is read, so their memory is free before the next file,
    and any refusal (too many rejects, an export older than the store) rolls all of it back.
    """
    started = _now()
    say = progress or (lambda step, done: None)
    say("reading", 0.0)
    files = _expand(request.paths)
    fmt, by_role, skipped_files = _detect(files, request)
    try:
        with store.transaction():
            import_id = store.next_value("imports", "import_id") + 1
            early: dict[str, int] = {}

            def write(name: str, table: pa.Table) -> None:
                early[name] = early.get(name, 0) + write_rows(store, name, table, import_id)

            options = ReadOptions(request.as_of, request.mapping, request.date_order, write)
            batch = fmt.read(by_role, options)
            say("checking", 0.5)
            result, file_hash = _check(store, request, fmt, batch, skipped_files, started)
            say("writing", 0.6)
            counts = apply_batch(store, batch, import_id, result["as_of"])
            for name, rows in early.items():
                counts[name] = counts.get(name, 0) + rows
            store.insert(
                "imports", _log_row(import_id, fmt, batch, result, file_hash, started, counts)
            )
    except _AlreadyImported as done:
        return done.result
    say("done", 1.0)
    return ImportResult(import_id=import_id, counts=counts, **result)


class _AlreadyImported(Exception):
    """The same files were imported before: roll back what was read and say so."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__(result.skipped)
        self.result = result


def _check(
    store: Store,
    request: ImportRequest,
    fmt: Format,
    batch: ImportBatch,
    skipped_files: list[str],
    started: datetime,
) -> tuple[dict[str, Any], str]:
    """Everything that can refuse an import once its files are read; raises to roll back."""
    if batch.rows_read == 0:
        names = ", ".join(f.name for f in batch.files)
        raise InputError(f"{names}: a header but no rows; nothing to import")
    for name in skipped_files:
        batch.notices.append(_skipped_notice(name, fmt))
    rejects_path = None
    if batch.rejects:
        rejects_path = _write_rejects(store, batch.rejects, started)
        if batch.rows_rejected > request.max_rejects:
            raise RejectsExceeded(
                _rejects_message(batch, request.max_rejects, rejects_path),
                str(rejects_path),
                summary=_rejects_summary(batch, request.max_rejects),
            )
    file_hash = _hash(batch.files)
    as_of = request.as_of or batch.as_of or started
    result: dict[str, Any] = dict(
        format=fmt.name,
        files=tuple(str(f.path) for f in batch.files),
        as_of=as_of,
        rows_read=batch.rows_read,
        rows_rejected=batch.rows_rejected,
        rows_accepted=batch.rows_read - batch.rows_rejected,
        notices=tuple(n.text() for n in batch.notices),
        rejects_path=rejects_path,
    )
    previous = _previous_import(store, file_hash)
    if previous is not None:
        raise _AlreadyImported(
            ImportResult(
                import_id=None,
                skipped=f"these files were already imported (import #{previous}); nothing to add",
                **result,
            )
        )
    _check_not_older(store, as_of, request.as_of is not None)
    return result, file_hash


def _log_row(
    import_id: int,
    fmt: Format,
    batch: ImportBatch,
    result: dict[str, Any],
    file_hash: str,
    started: datetime,
    counts: dict[str, int],
) -> pa.Table:
    """The import's line in the ``imports`` log."""
    rejects_path = result["rejects_path"]
    return pa.table(
        {
            "import_id": [import_id],
            "format": [fmt.name],
            "paths": ["\n".join(str(f.path) for f in batch.files)],
            "file_hash": [file_hash],
            "as_of": [result["as_of"]],
            "started_at": [started],
            "finished_at": [_now()],
            "rows_read": [batch.rows_read],
            "rows_accepted": [batch.rows_read - batch.rows_rejected],
            "rows_rejected": [batch.rows_rejected],
            "warnings": [sum(n.rows for n in batch.notices)],
            "rejects_path": [str(rejects_path) if rejects_path else None],
            "events_added": [counts.get("deal_events", 0)],
        }
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _expand(paths: Sequence[Path]) -> list[tuple[Path, bool]]:
    """Files to read, each with whether the user named it (True) or it was in a folder."""
    if not paths:
        raise InputError("nothing to import: name one or more files or folders")
    found: list[tuple[Path, bool]] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            inside = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and p.suffix.lower() in (".csv", ".txt", ".tsv")
            )
            if not inside:
                raise InputError(f"{path}: the folder holds no .csv files")
            found.extend((p, False) for p in inside)
        elif path.exists():
            found.append((path, True))
        else:
            raise InputError(f"{path}: no such file or folder")
    return found


def _detect(
    files: list[tuple[Path, bool]], request: ImportRequest
) -> tuple[Format, dict[str, list[CsvFile]], list[str]]:
    formats = registered()
    if request.format is not None and request.format not in formats:
        raise InputError(f"unknown format {request.format!r}; known formats: {', '.join(formats)}")
    if request.mapping is not None:
        candidates = [formats["mapping"]]
    elif request.format is not None:
        candidates = [formats[request.format]]
    else:
        candidates = [f for name, f in formats.items() if name != "mapping"]
    read = [(read_csv(path), named) for path, named in files]
    for fmt in candidates:
        by_role: dict[str, list[CsvFile]] = {}
        unclaimed: list[tuple[CsvFile, bool]] = []
        for file, named in read:
            role = (
                fmt.role(file.header, file.name)
                if request.mapping is None
                else fmt.role(file.header, str(request.mapping))
            )
            if role is None:
                unclaimed.append((file, named))
            else:
                by_role.setdefault(role, []).append(file)
        if not by_role or any(named for _, named in unclaimed):
            continue
        for file, _ in unclaimed:
            identifying = fmt.files.get(file.path.stem.lower())
            if identifying:
                missing = [c for c in identifying if c not in file.header]
                raise InputError(
                    f"{file.name}: looks like the {file.path.stem} file of a {fmt.description}, "
                    f"but lacks the column{'s' if len(missing) != 1 else ''} "
                    f"{', '.join(missing) or ', '.join(identifying)}"
                )
        if fmt.main_roles and not any(r in by_role for r in fmt.main_roles):
            continue
        return fmt, by_role, [f.name for f, _ in unclaimed]
    first, _ = next(((f, n) for f, n in read if n), read[0])
    shortened = [h if len(h) <= 40 else h[:37] + "..." for h in first.header[:8]]
    shown = ", ".join(shortened) + (", ..." if len(first.header) > 8 else "")
    expected = "; ".join(f"{f.description}: {f.expects}" for f in candidates)
    hint = ""
    if len(first.header) == 1 and any(d in first.header[0] for d in ";\t|,"):
        hint = " The header is one single column: is the delimiter right?"
    raise InputError(
        f"{first.name}: cannot tell what this file is. It has the columns {shown}. "
        f"Expected one of: {expected}. For any other CSV, pass --mapping FILE.{hint}"
    )


def _skipped_notice(name: str, fmt: Format) -> Notice:
    return Notice(name, None, 0, f"is not part of a {fmt.description} import and was skipped")


def _write_rejects(store: Store, rejects: list[Reject], started: datetime) -> Path:
    folder = store.folder
    stem = Path(store.location).stem if store.target.is_file else "quarterdeck"
    path = folder / f"{stem}-rejects-{started:%Y%m%d-%H%M%S}.csv"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-rejects-{started:%Y%m%d-%H%M%S}-{n}.csv"
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["file", "line", "column", "value", "reason"])
        for r in rejects:
            value = r.value if r.value is None or len(r.value) < 1000 else r.value[:1000] + "..."
            # A value that a spreadsheet would run as a formula is written as text.
            if value and value[0] in "=+-@\t\r":
                value = "'" + value
            writer.writerow([r.file, r.line, r.column, value, r.reason])
    tmp.replace(path)
    return path


def _rejects_summary(batch: ImportBatch, max_rejects: int) -> str:
    return (
        f"{batch.rows_rejected:,} row{'s' if batch.rows_rejected != 1 else ''} cannot be read "
        f"(allowed: {max_rejects})"
    )


def _rejects_message(batch: ImportBatch, max_rejects: int, path: Path) -> str:
    shown = [r.message() for r in batch.rejects[:5]]
    more = len(batch.rejects) - len(shown)
    lines = "\n  ".join(shown)
    tail = f"\n  ... and {more} more" if more > 0 else ""
    return (
        f"{_rejects_summary(batch, max_rejects)}; nothing was imported.\n  {lines}{tail}\n"
        f"All rejected rows and reasons: {path}\n"
        "Fix them, or allow them to be set aside with --max-rejects N."
    )


def _hash(files: list[CsvFile]) -> str:
    digest = hashlib.sha256()
    for sha in sorted(f.sha256 for f in files):
        digest.update(sha.encode())
    return digest.hexdigest()


def _previous_import(store: Store, file_hash: str) -> int | None:
    imports = store.table("imports")
    found = store.scalar(imports.filter(imports.file_hash == file_hash).import_id.min())
    return None if found is None or (isinstance(found, float) and found != found) else int(found)


def _check_not_older(store: Store, as_of: datetime, explicit: bool) -> None:
    latest = store.scalar(store.table("imports").as_of.max())
    if latest is None or latest != latest:
        return
    latest = latest.to_pydatetime() if hasattr(latest, "to_pydatetime") else latest
    if as_of < latest:
        how = "--as-of" if explicit else "the export time found in the files"
        raise DataError(
            f"this data is as of {as_of:%Y-%m-%d %H:%M} ({how}), older than data already "
            f"imported (as of {latest:%Y-%m-%d %H:%M}); importing it would rewind the deals. "
            "Import exports in the order they were taken."
        )
