"""Charts drawn as inline SVG in Python: no scripts, nothing fetched, so they show the same
in a browser, in an e-mail client that keeps SVG, and in the PDF.

Each chart is one ``<svg>`` element with a ``<title>`` and an ``aria-label`` that says the
numbers in words, and every bar carries a text label with its value, so nothing is told by
colour or length alone. Geometry is computed on Decimals and written to two decimals, so
the same chart gives the same bytes on every machine. Text is XML-escaped.

Lengths are proportional to values: in a bar chart the longest value (or target) spans
the plot width :data:`BAR_PLOT` (from x = :data:`BAR_LEFT`); a waterfall maps the range
from its lowest to its highest running level (zero included) onto :data:`WATERFALL_PLOT`
pixels of height; a pace chart maps days onto x and amounts onto y from zero; a mix chart
gives each part its share of :data:`MIX_PLOT`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from html import escape

from quarterdeck.errors import InternalError
from quarterdeck.report.document import (
    BarChart,
    Chart,
    Linked,
    MixChart,
    PaceChart,
    WaterfallChart,
)
from quarterdeck.report.format import ValueKind, count, day, exact, money_short, multiple, percent

__all__ = [
    "BAR_LEFT",
    "BAR_PLOT",
    "COLORS",
    "MIX_LEFT",
    "MIX_PLOT",
    "PALETTE",
    "WATERFALL_PLOT",
    "WATERFALL_TOP",
    "WIDTH",
    "Href",
    "chart_value",
    "svg",
]

Href = Callable[[Linked], str | None]
"""Gives the link (``#deal-...``) of a bar, step or part, or None: how charts link to deals."""

WIDTH = 640
"""Width of every chart in SVG units (pixels at 100%)."""

COLORS: dict[str, str] = {
    "bar": "#2f6db5",
    "target": "#1b1f24",
    "up": "#2e8540",
    "down": "#c0392b",
    "level": "#5d6d7e",
    "pace": "#e67e22",
    "track": "#e9edf1",
    "text": "#1b1f24",
    "muted": "#55606b",
    "grid": "#c5ccd3",
}
"""The colours charts use: bars, target marks, rising and falling steps, start/end levels."""

PALETTE: tuple[str, ...] = ("#2f6db5", "#16a085", "#e67e22", "#8e5ea2", "#7f8c8d", "#b7950b")
"""Colours of the parts of a mix, in order."""

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
CHAR_W = Decimal("6.6")
"""Rough width of one character at 12 px, to decide whether a label fits."""

BAR_LEFT = 170
BAR_PLOT = 320
_BAR_ROW = 30
_BAR_H = 18
_BAR_TOP = 8

WATERFALL_TOP = 24
WATERFALL_PLOT = 180
_WATERFALL_SIDE = 10
_WATERFALL_BOTTOM = 44

_PACE_LEFT = 64
_PACE_RIGHT = WIDTH - 130
_PACE_TOP = 16
_PACE_BOTTOM = 204
_PACE_HEIGHT = 246

MIX_LEFT = 70
MIX_PLOT = WIDTH - MIX_LEFT - 10
_MIX_ROW = 40
_MIX_H = 28
_MIX_LEGEND = 18

_HALF = Decimal("0.5")


def svg(chart: Chart, href: Href | None = None) -> str:
    """``chart`` as one ``<svg>`` element; ``href`` links its bars to the deals behind them."""
    link: Href = href or (lambda _: None)
    if isinstance(chart, BarChart):
        return _bar_chart(chart, link)
    if isinstance(chart, WaterfallChart):
        return _waterfall(chart, link)
    if isinstance(chart, PaceChart):
        return _pace(chart, link)
    if isinstance(chart, MixChart):
        return _mix(chart, link)
    raise InternalError(f"no drawing for {type(chart).__name__}")


def chart_value(value: Decimal | int | None, kind: ValueKind, *, signed: bool = False) -> str:
    """A chart's value as its labels write it: money short (``1.2M``), ratios as percent."""
    if value is None:
        return money_short(None)
    if kind == "percent":
        return percent(value, signed=signed)
    if kind == "multiple":
        return multiple(value)
    if kind == "count" and isinstance(value, int):
        return count(value, signed=signed)
    return money_short(value, signed=signed)


# -- SVG writing --------------------------------------------------------------------------


def _n(value: Decimal | int) -> str:
    """A coordinate to two decimals, without trailing zeros: ``150``, ``150.5``."""
    text = f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _attrs(attrs: dict[str, object]) -> str:
    parts = []
    for key, value in attrs.items():
        if value is None:
            continue
        text = _n(value) if isinstance(value, Decimal | int) else str(value)
        parts.append(f' {key.rstrip("_").replace("_", "-")}="{escape(text, quote=True)}"')
    return "".join(parts)


def _el(tag: str, content: str = "", **attrs: object) -> str:
    if not content:
        return f"<{tag}{_attrs(attrs)}/>"
    return f"<{tag}{_attrs(attrs)}>{content}</{tag}>"


def _text(x: Decimal | int, y: Decimal | int, text: str, **attrs: object) -> str:
    return _el("text", escape(text, quote=False), x=x, y=y, **attrs)


def _linked(content: str, target: str | None, label: str) -> str:
    """``content`` wrapped in a link to ``target`` (with a tooltip), or as a titled group."""
    title = _el("title", escape(label, quote=False))
    if target is None:
        return _el("g", title + content)
    return _el("a", title + content, href=target)


def _root(kind: str, title: str, summary: str, height: Decimal | int, body: str) -> str:
    label = f"{title}. {summary}" if title else summary
    return (
        _el(
            "svg",
            _el("title", escape(title or summary, quote=False))
            + _el("desc", escape(summary, quote=False))
            + body,
            xmlns="http://www.w3.org/2000/svg",
            class_=f"chart chart-{kind}",
            viewBox=f"0 0 {WIDTH} {_n(height)}",
            width=WIDTH,
            height=height,
            role="img",
            aria_label=label,
            font_family=FONT,
            font_size=12,
            fill=COLORS["text"],
        )
        + "\n"
    )


def _fit(text: str, width: Decimal) -> str:
    """``text`` cut with an ellipsis to about ``width`` pixels (the full text is in titles)."""
    chars = int(width / CHAR_W)
    return text if len(text) <= chars else text[: max(chars - 1, 1)].rstrip() + "…"


def _wrap(text: str, width: Decimal, lines: int = 2) -> list[str]:
    """``text`` broken at spaces into at most ``lines`` lines of about ``width`` pixels."""
    chars = max(int(width / CHAR_W), 4)
    out: list[str] = []
    for word in text.split():
        if out and len(out[-1]) + 1 + len(word) <= chars:
            out[-1] += " " + word
        else:
            out.append(word)
    if len(out) > lines:
        out = [*out[: lines - 1], " ".join(out[lines - 1 :])]
    return [_fit(line, width) for line in out] or [""]


# -- horizontal bars ----------------------------------------------------------------------


def _bar_chart(chart: BarChart, link: Href) -> str:
    values = [exact(b.value) for b in chart.bars]
    targets = [exact(b.target) for b in chart.bars if b.target is not None]
    top = max([*values, *targets], default=Decimal(0))
    scale = Decimal(BAR_PLOT) / top if top else Decimal(0)
    body = []
    words = []
    for i, bar in enumerate(chart.bars):
        y = Decimal(_BAR_TOP + i * _BAR_ROW + (_BAR_ROW - _BAR_H) // 2)
        middle = y + Decimal(_BAR_H) / 2 + 4
        value = chart_value(bar.value, chart.kind)
        said = value
        if bar.target is not None:
            said = f"{value} of {chart_value(bar.target, chart.kind)} target"
        words.append(f"{bar.label} {said}")
        body.append(
            _text(BAR_LEFT - 8, middle, _fit(bar.label, Decimal(BAR_LEFT - 12)), text_anchor="end")
        )
        body.append(
            _el(
                "rect",
                x=BAR_LEFT,
                y=y,
                width=BAR_PLOT,
                height=_BAR_H,
                fill=COLORS["track"],
                class_="track",
            )
        )
        shapes = _el(
            "rect",
            x=BAR_LEFT,
            y=y,
            width=exact(bar.value) * scale,
            height=_BAR_H,
            fill=COLORS["bar"],
            class_="bar",
        )
        if bar.target is not None:
            x = BAR_LEFT + exact(bar.target) * scale
            shapes += _el(
                "line",
                x1=x,
                y1=y - 4,
                x2=x,
                y2=y + _BAR_H + 4,
                stroke=COLORS["target"],
                stroke_width=2,
                class_="target",
            )
        shapes += _text(BAR_LEFT + BAR_PLOT + 8, middle, said, class_="value")
        body.append(_linked(shapes, link(bar), f"{bar.label}: {said}"))
    height = _BAR_TOP * 2 + _BAR_ROW * len(chart.bars)
    if targets:
        legend = height + 2
        body.append(
            _el(
                "line",
                x1=BAR_LEFT,
                y1=legend,
                x2=BAR_LEFT,
                y2=legend + 14,
                stroke=COLORS["target"],
                stroke_width=2,
            )
            + _text(BAR_LEFT + 6, legend + 11, "target", fill=COLORS["muted"], font_size=11)
        )
        height += 20
    if not chart.bars:
        body.append(_text(BAR_LEFT, 20, "nothing to show", fill=COLORS["muted"]))
        height = 30
    return _root("bar", chart.title, "; ".join(words) or "nothing to show", height, "".join(body))


# -- waterfall ----------------------------------------------------------------------------


def _waterfall(chart: WaterfallChart, link: Href) -> str:
    steps = [chart.start, *chart.steps, chart.end]
    start = exact(chart.start.amount)
    spans: list[tuple[Decimal, Decimal]] = [(Decimal(0), start)]
    level = start
    for step in chart.steps:
        spans.append((level, level + exact(step.amount)))
        level += exact(step.amount)
    spans.append((Decimal(0), exact(chart.end.amount)))
    ends = [v for span in spans for v in span]
    low, high = min(ends), max(ends)
    if high == low:
        high = low + 1
    scale = Decimal(WATERFALL_PLOT) / (high - low)

    def y(value: Decimal) -> Decimal:
        return WATERFALL_TOP + (high - value) * scale

    column = Decimal(WIDTH - 2 * _WATERFALL_SIDE) / len(steps)
    bar_w = column * Decimal("0.62")
    body = [
        _el(
            "line",
            x1=_WATERFALL_SIDE,
            y1=y(Decimal(0)),
            x2=WIDTH - _WATERFALL_SIDE,
            y2=y(Decimal(0)),
            stroke=COLORS["grid"],
        )
    ]
    words = []
    base = WATERFALL_TOP + WATERFALL_PLOT
    for i, (step, (a, b)) in enumerate(zip(steps, spans, strict=True)):
        x = _WATERFALL_SIDE + column * i + (column - bar_w) / 2
        middle = x + bar_w / 2
        edge = i in (0, len(steps) - 1)
        amount = exact(step.amount)
        color = COLORS["level"] if edge else COLORS["up"] if amount >= 0 else COLORS["down"]
        said = money_short(amount, signed=not edge)
        words.append(f"{step.label} {said}")
        top = min(y(a), y(b))
        shapes = _el(
            "rect",
            x=x,
            y=top,
            width=bar_w,
            height=max(abs(y(a) - y(b)), Decimal(1)),
            fill=color,
            class_="level" if edge else "up" if amount >= 0 else "down",
        )
        shapes += _text(middle, top - 6, said, text_anchor="middle", class_="value")
        body.append(_linked(shapes, link(step), f"{step.label}: {said}"))
        for n, line in enumerate(_wrap(step.label, column - 4)):
            body.append(_text(middle, base + 16 + 13 * n, line, text_anchor="middle", font_size=11))
        if i < len(steps) - 1:
            body.append(
                _el(
                    "line",
                    x1=x + bar_w,
                    y1=y(b),
                    x2=x + column,
                    y2=y(b),
                    stroke=COLORS["muted"],
                    stroke_dasharray="3 2",
                )
            )
    height = WATERFALL_TOP + WATERFALL_PLOT + _WATERFALL_BOTTOM
    return _root("waterfall", chart.title, "; ".join(words), height, "".join(body))


# -- pace ---------------------------------------------------------------------------------


def _pace(chart: PaceChart, link: Href) -> str:
    booked = chart.booked_to_date
    target = None if chart.target is None else exact(chart.target)
    pace = chart.pace_to_date
    high = max([exact(p.booked) for p in chart.booked] + [target or Decimal(0)], default=Decimal(0))
    high = high * Decimal("1.1") if high > 0 else Decimal(1)
    left, right, top, bottom = _PACE_LEFT, _PACE_RIGHT, _PACE_TOP, _PACE_BOTTOM

    def x(days: int) -> Decimal:
        return left + Decimal(days) * (right - left) / chart.days

    def y(value: Decimal) -> Decimal:
        return bottom - value * (bottom - top) / high

    def at(d: date) -> int:
        return (d - chart.start).days + 1

    now = x(at(chart.as_of))
    points = [(x(0), y(Decimal(0)))]
    points += [(x(at(p.day)), y(exact(p.booked))) for p in chart.booked]
    points.append((now, y(booked)))
    line = " ".join(f"{_n(px)},{_n(py)}" for px, py in points)
    area = f"{line} {_n(now)},{_n(y(Decimal(0)))}"
    body = [
        _el("line", x1=left, y1=bottom, x2=right, y2=bottom, stroke=COLORS["grid"]),
        _text(left - 6, bottom + 4, "0", text_anchor="end", fill=COLORS["muted"]),
        _text(left, bottom + 18, day(chart.start), fill=COLORS["muted"], font_size=11),
        _text(
            right,
            bottom + 18,
            day(chart.end),
            text_anchor="end",
            fill=COLORS["muted"],
            font_size=11,
        ),
        _el(
            "line",
            x1=now,
            y1=top,
            x2=now,
            y2=bottom,
            stroke=COLORS["muted"],
            stroke_dasharray="2 3",
        ),
        _text(
            min(max(now, Decimal(left + 40)), Decimal(right - 40)),
            bottom + 34,
            f"as of {day(chart.as_of)}",
            text_anchor="middle",
            font_size=11,
        ),
    ]
    words = [f"booked {money_short(booked)}"]
    if target is not None and pace is not None:
        words += [f"target {money_short(target)}", f"straight-line pace today {money_short(pace)}"]
        body += [
            _el(
                "line",
                x1=left,
                y1=y(target),
                x2=right,
                y2=y(target),
                stroke=COLORS["target"],
                stroke_width=Decimal("1.5"),
                class_="target",
            ),
            _text(right + 6, y(target) + 4, f"target {money_short(target)}", class_="value"),
            _text(
                left - 6,
                y(target) + 4,
                money_short(target),
                text_anchor="end",
                fill=COLORS["muted"],
            ),
            _el(
                "line",
                x1=left,
                y1=y(Decimal(0)),
                x2=right,
                y2=y(target),
                stroke=COLORS["pace"],
                stroke_width=2,
                stroke_dasharray="6 4",
                class_="pace",
            ),
        ]
    else:
        words.append("no target")
        body.append(_text(right + 6, top + 12, "no target", fill=COLORS["muted"]))
    shapes = _el("polygon", points=area, fill=COLORS["bar"], fill_opacity="0.15", class_="area")
    shapes += _el(
        "polyline",
        points=line,
        fill="none",
        stroke=COLORS["bar"],
        stroke_width=3,
        stroke_linejoin="round",
        class_="booked",
    )
    shapes += _el("circle", cx=now, cy=y(booked), r=5, fill=COLORS["bar"])
    labels = [(y(booked), f"booked {money_short(booked)}", COLORS["bar"], "booked")]
    if pace is not None:
        shapes += _el("circle", cx=now, cy=y(pace), r=4, fill=COLORS["pace"])
        labels.append((y(pace), f"pace {money_short(pace)}", COLORS["pace"], "pace-value"))
    # The higher mark is labelled above and left of its dot, where neither line runs (the
    # bookings lie below it, the pace line rises to the right); the lower one below and
    # right of its dot, in the future where no bookings are drawn. A label that would
    # leave the chart goes to the other side.
    labels.sort(key=lambda item: item[0])
    for n, (ly, text, color, kind) in enumerate(labels):
        width = CHAR_W * Decimal("1.1") * len(text)
        left_side = n == 0
        if left_side and now - 8 - width < 0:
            left_side = False
        elif not left_side and now + 8 + width > WIDTH:
            left_side = True
        shapes += _text(
            now - 8 if left_side else now + 8,
            ly - 9 if n == 0 else ly + 18,
            text,
            text_anchor="end" if left_side else "start",
            fill=color,
            font_weight="bold",
            class_=kind,
        )
    body.append(_linked(shapes, link(chart), f"booked to date: {money_short(booked)}"))
    return _root("pace", chart.title, "; ".join(words), _PACE_HEIGHT, "".join(body))


# -- mix ----------------------------------------------------------------------------------


def _segments(
    parts: Sequence[tuple[str, Decimal, str | None]], y: int, link: Sequence[str | None]
) -> list[str]:
    """One 100% bar at ``y``: each (label, share, tooltip) as a segment of its share."""
    total = sum((share for _, share, _ in parts), Decimal(0))
    out = []
    x = Decimal(MIX_LEFT)
    for i, ((label, share, tip), target) in enumerate(zip(parts, link, strict=True)):
        width = share / total * MIX_PLOT if total else Decimal(0)
        color = PALETTE[i % len(PALETTE)]
        shapes = _el(
            "rect", x=x, y=y, width=width, height=_MIX_H, fill=color, class_=f"part part-{i}"
        )
        text = f"{label} {percent(share)}"
        if width < CHAR_W * len(text) + 8:
            text = percent(share)
        if width >= CHAR_W * len(text) + 8:
            shapes += _text(
                x + width / 2,
                y + _MIX_H // 2 + 4,
                text,
                text_anchor="middle",
                fill="#ffffff",
                font_weight="bold",
            )
        out.append(_linked(shapes, target, tip or text))
        x += width
    return out


def _mix(chart: MixChart, link: Href) -> str:
    total = chart.total
    body = []
    words = []
    rows = 0
    top = 8
    row_y = top
    body.append(_text(MIX_LEFT - 8, row_y + _MIX_H // 2 + 4, "Actual", text_anchor="end"))
    if total:
        actual = [
            (
                p.label,
                exact(p.amount) / total,
                f"{p.label}: {percent(exact(p.amount) / total)} "
                f"({chart_value(p.amount, chart.kind)})",
            )
            for p in chart.parts
        ]
        body += _segments(actual, row_y, [link(p) for p in chart.parts])
    else:
        body.append(
            _el("rect", x=MIX_LEFT, y=row_y, width=MIX_PLOT, height=_MIX_H, fill=COLORS["track"])
        )
        body.append(
            _text(MIX_LEFT + 8, row_y + _MIX_H // 2 + 4, "nothing yet", fill=COLORS["muted"])
        )
    rows += 1
    if chart.has_target:
        row_y = top + _MIX_ROW
        body.append(_text(MIX_LEFT - 8, row_y + _MIX_H // 2 + 4, "Target", text_anchor="end"))
        wanted = [
            (p.label, exact(p.target_share), f"{p.label}: target {percent(p.target_share)}")
            for p in chart.parts
            if p.target_share is not None
        ]
        body += _segments(wanted, row_y, [None] * len(wanted))
        rows += 1
    y = top + rows * _MIX_ROW + 6
    for i, part in enumerate(chart.parts):
        share = chart.share(part)
        said = f"{part.label}: {percent(share)} ({chart_value(part.amount, chart.kind)})"
        if part.target_share is not None:
            said += f", target {percent(part.target_share)}"
        words.append(said)
        body.append(
            _el("rect", x=MIX_LEFT, y=y, width=12, height=12, fill=PALETTE[i % len(PALETTE)])
            + _text(MIX_LEFT + 18, y + 10, said)
        )
        y += _MIX_LEGEND
    return _root("mix", chart.title, "; ".join(words), y + 4, "".join(body))
