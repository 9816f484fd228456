"""Importers: from the files people export out of their CRM to an ``ImportBatch``."""

from __future__ import annotations

from quarterdeck.sources.batch import ImportBatch, Notice
from quarterdeck.sources.formats import Format, ReadOptions, registered
from quarterdeck.sources.reading import CsvFile, Reject, read_csv

__all__ = [
    "CsvFile",
    "Format",
    "ImportBatch",
    "Notice",
    "ReadOptions",
    "Reject",
    "read_csv",
    "registered",
]
