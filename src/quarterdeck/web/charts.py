"""Vega-Lite specs of the web app's charts, built from the brief's own chart data.

The brief lays out its figures as :mod:`quarterdeck.report.document` charts (the pace of
bookings against the target, the pipeline waterfall); here the same data becomes a
Vega-Lite spec that the page fetches as JSON and ``static/app.js`` draws, so the page and
the downloaded brief show the same numbers. Each mark that stands for deals carries the
URL of the list of those deals (``href``), so a click drills down. Amounts are plain
numbers here (a chart needs no cents); the tables beside keep them exact.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from quarterdeck.report.document import Linked, PaceChart, WaterfallChart

__all__ = ["SCHEMA", "forecast_spec", "pace_spec", "waterfall_spec"]

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
WIDTH = 600

Href = Callable[[Linked], str | None]


def _base(title: str) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "title": title,
        "width": WIDTH,
        "height": 240,
        "config": {"font": "sans-serif", "view": {"stroke": None}},
    }


def pace_spec(chart: PaceChart, href: Href) -> dict[str, Any]:
    """Bookings to date (a step line) against the straight-line pace to the target."""
    link = href(chart)
    booked = [
        {"day": p.day.isoformat(), "amount": float(p.booked), "series": "closed won", "href": link}
        for p in chart.booked
    ]
    layers: list[dict[str, Any]] = [
        {
            "data": {"values": booked},
            "mark": {"type": "line", "interpolate": "step-after", "point": True},
            "encoding": {
                "x": {"field": "day", "type": "temporal", "title": None},
                "y": {"field": "amount", "type": "quantitative", "title": "amount"},
                "color": {"field": "series", "type": "nominal", "title": None},
                "href": {"field": "href", "type": "nominal"},
                "tooltip": [
                    {"field": "day", "type": "temporal"},
                    {"field": "amount", "type": "quantitative", "format": ",.0f"},
                ],
            },
        }
    ]
    if chart.target is not None:
        end = chart.end + timedelta(days=1)
        pace = [
            {"day": chart.start.isoformat(), "amount": 0.0, "series": "pace to target"},
            {"day": end.isoformat(), "amount": float(chart.target), "series": "pace to target"},
        ]
        layers.append(
            {
                "data": {"values": pace},
                "mark": {"type": "line", "strokeDash": [6, 4]},
                "encoding": {
                    "x": {"field": "day", "type": "temporal"},
                    "y": {"field": "amount", "type": "quantitative"},
                    "color": {"field": "series", "type": "nominal"},
                },
            }
        )
    return _base(chart.title) | {"layer": layers, "description": chart.caption}


def waterfall_spec(chart: WaterfallChart, href: Href) -> dict[str, Any]:
    """Start, the signed steps and the end as floating bars (each bar from the level before
    it to the level after it)."""
    rows = []
    level = chart.start.amount
    rows.append(_bar(0, chart.start.label, 0, float(level), "level", href(chart.start)))
    for n, step in enumerate(chart.steps, start=1):
        after = level + step.amount
        kind = "rise" if step.amount >= 0 else "fall"
        rows.append(
            _bar(n, step.label, float(level), float(after), kind, href(step), float(step.amount))
        )
        level = after
    rows.append(
        _bar(len(chart.steps) + 1, chart.end.label, 0, float(chart.end.amount), "level", None)
    )
    return _base(chart.title) | {
        "description": chart.caption,
        "data": {"values": rows},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "label", "type": "nominal", "sort": {"field": "order"}, "title": None},
            "y": {"field": "low", "type": "quantitative", "title": "amount"},
            "y2": {"field": "high"},
            "color": {
                "field": "kind",
                "type": "nominal",
                "scale": {
                    "domain": ["level", "rise", "fall"],
                    "range": ["#4a6fa5", "#3c8d5a", "#c0504d"],
                },
                "legend": None,
            },
            "href": {"field": "href", "type": "nominal"},
            "tooltip": [
                {"field": "label", "type": "nominal"},
                {"field": "change", "type": "quantitative", "format": ",.0f"},
            ],
        },
    }


def _bar(
    order: int,
    label: str,
    start: float,
    end: float,
    kind: str,
    href: str | None,
    change: float | None = None,
) -> dict[str, Any]:
    return {
        "order": order,
        "label": label,
        "low": min(start, end),
        "high": max(start, end),
        "kind": kind,
        "href": href,
        "change": end - start if change is None else change,
    }


def forecast_spec(
    title: str,
    p10: float | None,
    p50: float | None,
    p90: float | None,
    target: float | None,
    closed_won: float | None,
    calls: list[tuple[str, float, float]],
) -> dict[str, Any]:
    """The forecast's range (P10 to P90, P50 marked) beside the target, closed won so far
    and the leader's calls (commit and best case), on one horizontal axis."""
    rows: list[dict[str, Any]] = []
    if p10 is not None and p90 is not None:
        rows.append({"what": "forecast P10-P90", "low": p10, "high": p90, "kind": "range"})
    marks = [("forecast P50", p50), ("target", target), ("closed won so far", closed_won)]
    for label, value in marks:
        if value is not None:
            rows.append({"what": label, "low": value, "high": value, "kind": "point"})
    for label, commit, best in calls:
        rows.append({"what": f"call {label}", "low": commit, "high": best, "kind": "call"})
    return _base(title) | {
        "height": max(60, 28 * len(rows)),
        "data": {"values": rows},
        "layer": [
            {
                "mark": {"type": "rule", "strokeWidth": 8},
                "encoding": {
                    "y": {"field": "what", "type": "nominal", "sort": None, "title": None},
                    "x": {"field": "low", "type": "quantitative", "title": "amount"},
                    "x2": {"field": "high"},
                    "color": {"field": "kind", "type": "nominal", "legend": None},
                },
            },
            {
                "mark": {"type": "point", "filled": True, "size": 80},
                "encoding": {
                    "y": {"field": "what", "type": "nominal", "sort": None},
                    "x": {"field": "high", "type": "quantitative"},
                    "color": {"field": "kind", "type": "nominal", "legend": None},
                    "tooltip": [
                        {"field": "what", "type": "nominal"},
                        {"field": "low", "type": "quantitative", "format": ",.0f"},
                        {"field": "high", "type": "quantitative", "format": ",.0f"},
                    ],
                },
            },
        ],
    }
