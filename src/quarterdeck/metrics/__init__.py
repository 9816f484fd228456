"""Sales metrics as Ibis expressions over the canonical tables.

Each metric takes a ``Store`` and returns a frozen result holding exact numbers (money as
``Decimal``) and the expressions it ran, so ``store.sql(expr)`` can show its SQL on any
engine. The docstring of each metric function is its definition.
"""

from __future__ import annotations

from quarterdeck.metrics.bookings import DIMENSIONS, Bookings, BookingsLine, bookings
from quarterdeck.metrics.pipeline import PipelineByStage, StageLine, pipeline_by_stage
from quarterdeck.metrics.winrate import WinRate, WinRateLine, win_rate

__all__ = [
    "DIMENSIONS",
    "Bookings",
    "BookingsLine",
    "PipelineByStage",
    "StageLine",
    "WinRate",
    "WinRateLine",
    "bookings",
    "pipeline_by_stage",
    "win_rate",
]
