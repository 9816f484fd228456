"""Quarterdeck: one shared, trustworthy picture of sales for a CEO and a sales leader."""

from __future__ import annotations

from quarterdeck.errors import (
    ConfigError,
    DataError,
    InputError,
    InternalError,
    QuarterdeckError,
    RejectsExceeded,
)
from quarterdeck.workspace import Status, Workspace

__all__ = [
    "ConfigError",
    "DataError",
    "InputError",
    "InternalError",
    "QuarterdeckError",
    "RejectsExceeded",
    "Status",
    "Workspace",
]
__version__ = "0.1.0"
