"""Readings shared by the CRM formats: motions, roles, forecast categories, custom fields."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.sources.batch import Notice
from quarterdeck.sources.values import Cells

__all__ = [
    "FORECAST_CATEGORY_NAMES",
    "custom_json",
    "latest_time",
    "motion_of",
    "role_of",
    "row_index",
    "size_band",
]

FORECAST_CATEGORY_NAMES = {
    "pipeline": "pipeline",
    "best case": "best_case",
    "bestcase": "best_case",
    "best_case": "best_case",
    "upside": "best_case",
    "commit": "commit",
    "forecast": "commit",
    "most likely": "commit",
    "omitted": "omitted",
    "closed": "closed",
}
"""Salesforce API values and labels, and HubSpot's, to the canonical forecast categories."""


def motion_of(kind: pa.Array) -> pa.Array:
    """Canonical motion from a CRM deal type ('New Customer', 'Existing Customer - Upgrade'...).

    Renewal words win over expansion words, which win over new-business words; a type
    that says none of them gives null, and the caller reports it.
    """
    low = pc.utf8_lower(pc.fill_null(kind, ""))
    renewal = pc.match_substring_regex(low, r"renew|retention|downgrade")
    expansion = pc.match_substring_regex(
        low, r"upgrade|upsell|up-sell|expan|cross|add-on|addon|existing|replacement|growth"
    )
    new = pc.match_substring_regex(low, r"new|acquisition|logo|first")
    return pc.if_else(
        renewal,
        "renewal",
        pc.if_else(
            expansion, "expansion", pc.if_else(new, "new_business", pa.scalar(None, pa.string()))
        ),
    )


def role_of(title: pa.Array) -> pa.Array:
    """Canonical role from a job title or CRM role name; reps unless the title says more."""
    low = pc.utf8_lower(pc.fill_null(title, ""))
    rules = [  # the first that matches wins
        (r"\bceo\b|chief executive|founder|^owner$|^president$", "ceo"),
        (r"\bvp\b|vice president|\bcro\b|chief revenue|head of sales|director|svp|evp", "leader"),
        (r"manager|team lead|supervisor", "manager"),
        (r"analyst|operations|revops|\bops\b", "analyst"),
        (r"admin", "admin"),
    ]
    out = pa.array(["rep"] * len(low), pa.string())
    for pattern, role in reversed(rules):
        out = pc.if_else(pc.match_substring_regex(low, pattern), role, out)
    return out


def size_band(employees: pa.Array) -> pa.Array:
    """Company size band by number of employees."""
    values = pc.cast(employees, pa.float64())
    bands = pc.if_else(
        pc.less(values, 100),
        "1-99",
        pc.if_else(
            pc.less(values, 1000),
            "100-999",
            pc.if_else(pc.less(values, 10000), "1000-9999", "10000+"),
        ),
    )
    return pc.if_else(pc.is_null(values), pa.scalar(None, pa.string()), bands)


def custom_json(cells: Cells, columns: list[str]) -> pa.Array:
    """The non-empty values of ``columns`` as one JSON object per row (null when none)."""
    if not columns:
        return pa.nulls(cells.rows, pa.string())
    pieces = []
    for name in columns:
        values = cells.raw(name)
        escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
        escaped = pc.replace_substring_regex(escaped, r"[\r\n\t]", " ")
        piece = pc.binary_join_element_wise(json.dumps(name) + ':"', escaped, '"', "")
        pieces.append(pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), piece))
    # Pairwise joins: one join of many arrays with null_handling="skip" drops rows (pyarrow 26).
    body = pieces[0]
    for piece in pieces[1:]:
        body = pc.coalesce(pc.binary_join_element_wise(body, piece, ","), body, piece)
    return pc.binary_join_element_wise("{", body, "}", "")


def latest_time(*arrays: pa.Array) -> datetime | None:
    """The latest of the given timestamp columns: the best guess of when a file was exported."""
    best = None
    for array in arrays:
        value = pc.max(array).as_py()
        if value is not None and (best is None or value > best):
            best = value
    return best


def row_index(n: int) -> pa.Array:
    return pa.array(np.arange(n, dtype=np.int64))


def close_before_create(
    cells: Cells, close: pa.Array, created: pa.Array, notices: list[Notice], column: str
) -> None:
    """Deals closing before they were created were usually entered after the fact: keep them,
    but say so, since their cycle time means nothing."""
    before = pc.fill_null(
        pc.less(pc.cast(close, pa.timestamp("s")), pc.floor_temporal(created, unit="day")), False
    )
    rows = np.flatnonzero(before.to_numpy(zero_copy_only=False))
    if len(rows):
        notices.append(
            Notice(
                cells.file.name,
                column,
                len(rows),
                "close before they were created (entered after the fact?); kept, but left out of cycle times",
                tuple(cells.file.line_of(int(r)) for r in rows[:5]),
            )
        )
