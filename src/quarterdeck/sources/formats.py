"""The formats Quarterdeck can import, and how it tells them apart by their headers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from quarterdeck.sources.batch import ImportBatch
from quarterdeck.sources.reading import CsvFile

__all__ = ["Format", "ReadOptions", "register", "registered"]


@dataclass(frozen=True)
class ReadOptions:
    """What the user said about the files, beyond the files themselves."""

    as_of: datetime | None = None
    mapping: Path | None = None
    date_order: str | None = None
    write: Callable[[str, pa.Table], None] | None = None
    """Where a format may hand a finished plain table (accounts, activities) at once, inside
    the import's transaction, instead of keeping it in the batch: this frees its memory
    before the next file is read."""


@dataclass(frozen=True)
class Format:
    """One import format: how to recognise each of its files, and how to read them.

    ``role`` looks at a header and names the part the file plays in this format (for
    example "opportunity" or "history"), or None when the file is not of this format.
    ``read`` gets the files grouped by role. ``expects`` lists, for the error message when
    nothing matches, the columns that identify the format's main file.
    """

    name: str
    description: str
    role: Callable[[tuple[str, ...], str], str | None]
    read: Callable[[Mapping[str, list[CsvFile]], ReadOptions], ImportBatch]
    expects: str
    main_roles: tuple[str, ...] = field(default=())
    files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Usual file names (lower case, no extension) and the columns that identify each, so a
    known file that fails to match can be named instead of silently skipped."""


_FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    _FORMATS[fmt.name] = fmt
    return fmt


def registered() -> dict[str, Format]:
    """All formats, in the order they are tried (importing the format modules first)."""
    from quarterdeck.sources import hubspot, mapping, salesforce  # noqa: F401

    return dict(_FORMATS)
