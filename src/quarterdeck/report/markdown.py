"""A document as Markdown that pastes cleanly into an e-mail or a chat.

Headings, short paragraphs and pipe tables whose columns line up in plain text too; no
HTML. A chart becomes a compact table of its numbers, so no number is lost. A number made
of deals is followed by a reference in brackets to the appendix: the deal id for one deal
(``[D-001]``), a group reference for several (``[G2]``), which the appendix lists.
Characters that Markdown would read as markup (``* _ [ ] < > | ` \\ ~``) are escaped, so a
deal named ``<b>`` shows as text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from quarterdeck.report.charts import chart_value
from quarterdeck.report.document import (
    Align,
    Appendix,
    BarChart,
    Block,
    Callout,
    Cell,
    Document,
    Item,
    ItemList,
    Linked,
    MixChart,
    PaceChart,
    Table,
    WaterfallChart,
)
from quarterdeck.report.format import NONE, day, exact, moment, money_short, percent

__all__ = ["escape", "pipe_table", "render_markdown"]

_MARKUP = re.compile(r"([\\`*\[\]<>|~])")
_LOOSE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_LINE_START = re.compile(r"^(\s*)([#+\-]|\d+[.)])(?=\s|$)")


def escape(text: str, *, line: bool = False) -> str:
    """``text`` with what Markdown would read as markup escaped by a backslash, on one line.

    An underscore inside a word (``deal_id``) is left alone: Markdown does not read it as
    emphasis. With ``line``, the text starts a line (a paragraph): a start that would
    make it a heading or a list item (``# ``, ``- ``, ``1. ``) is escaped too.
    """
    text = _MARKUP.sub(r"\\\1", text)
    text = _LOOSE_UNDERSCORE.sub(r"\\_", text)
    text = " ".join(text.split("\n"))
    if line:
        text = _LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)
    return text


def pipe_table(
    headings: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[Align]
) -> str:
    """A pipe table whose columns are padded to one width, so it lines up as plain text.

    Cells are taken as already escaped.
    """
    widths = [max([len(h), 3, *(len(r[i]) for r in rows)]) for i, h in enumerate(headings)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if a == "right" else c.center(w) if a == "center" else c.ljust(w)
            for c, w, a in zip(cells, widths, align, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rules = []
    for w, a in zip(widths, align, strict=True):
        if a == "right":
            rules.append("-" * (w - 1) + ":")
        elif a == "center":
            rules.append(":" + "-" * (w - 2) + ":")
        else:
            rules.append(":" + "-" * (w - 1))
    return "\n".join([line(headings), line(rules), *(line(r) for r in rows)])


class _Writer:
    """Writes one document; holds it to look up links."""

    def __init__(self, document: Document) -> None:
        self.doc = document

    def ref(self, linked: Linked) -> str:
        link = self.doc.link(linked)
        return f" [{escape(link.ref)}]" if link is not None else ""

    def write(self) -> str:
        doc = self.doc
        parts = [f"# {escape(doc.title)}"]
        if doc.subtitle:
            parts.append(escape(doc.subtitle))
        facts = [f"{escape(k)}: {escape(v)}" for k, v in doc.facts]
        facts.append(f"Generated: {moment(doc.generated_at)}")
        parts.append(" · ".join(facts))
        for section in doc.sections:
            parts.append(f"## {escape(section.title)}")
            parts.extend(escape(p, line=True) for p in section.paragraphs)
            parts.extend(self.block(b) for b in section.blocks)
        if doc.appendix is not None:
            parts.append(self.appendix())
        return "\n\n".join(p for p in parts if p) + "\n"

    def block(self, block: Block) -> str:
        if isinstance(block, Table):
            return self.table(block)
        if isinstance(block, BarChart):
            return self.bar_chart(block)
        if isinstance(block, WaterfallChart):
            return self.waterfall(block)
        if isinstance(block, PaceChart):
            return self.pace(block)
        if isinstance(block, MixChart):
            return self.mix(block)
        if isinstance(block, ItemList):
            return self.items(block)
        return self.callout(block)

    @staticmethod
    def caption(text: str) -> str:
        return f"**{escape(text)}**\n\n" if text else ""

    def table(self, table: Table) -> str:
        if not table.rows:
            return self.caption(table.caption) + f"_{escape(table.empty)}_"
        columns = table.columns

        def cells(row: Sequence[Cell], bold: bool = False) -> list[str]:
            out = []
            for cell, column in zip(row, columns, strict=True):
                text = escape(column.text(cell.value))
                if bold and text:
                    text = f"**{text}**"
                out.append(text + self.ref(cell))
            return out

        rows = [cells(r) for r in table.rows]
        if table.total is not None:
            rows.append(cells(table.total, bold=True))
        return self.caption(table.caption) + pipe_table(
            [escape(c.label) for c in columns], rows, [c.alignment for c in columns]
        )

    def bar_chart(self, chart: BarChart) -> str:
        targets = any(b.target is not None for b in chart.bars)
        headings = ["", "Value", *(["Target"] if targets else [])]
        rows = [
            [
                escape(b.label),
                chart_value(b.value, chart.kind) + self.ref(b),
                *([chart_value(b.target, chart.kind)] if targets else []),
            ]
            for b in chart.bars
        ]
        align: list[Align] = ["left", "right", "right"] if targets else ["left", "right"]
        return self.chart_text(chart.title, chart.caption, pipe_table(headings, rows, align))

    def waterfall(self, chart: WaterfallChart) -> str:
        rows = [
            [escape(chart.start.label), "", money_short(chart.start.amount) + self.ref(chart.start)]
        ]
        level = exact(chart.start.amount)
        for step in chart.steps:
            level += exact(step.amount)
            rows.append(
                [
                    escape(step.label),
                    money_short(step.amount, signed=True) + self.ref(step),
                    money_short(level),
                ]
            )
        rows.append(
            [escape(chart.end.label), "", money_short(chart.end.amount) + self.ref(chart.end)]
        )
        table = pipe_table(["", "Change", "Level"], rows, ["left", "right", "right"])
        return self.chart_text(chart.title, chart.caption, table)

    def pace(self, chart: PaceChart) -> str:
        booked = chart.booked_to_date
        rows = [
            ["Period", f"{day(chart.start)} to {day(chart.end)}"],
            [f"Booked to {day(chart.as_of)}", money_short(booked) + self.ref(chart)],
        ]
        pace = chart.pace_to_date
        if chart.target is not None and pace is not None:
            rows += [
                ["Target", money_short(chart.target)],
                ["Straight-line pace to date", money_short(pace)],
                ["Against pace", money_short(booked - pace, signed=True)],
            ]
        else:
            rows.append(["Target", "none set"])
        table = pipe_table(["", "Amount"], rows, ["left", "right"])
        return self.chart_text(chart.title, chart.caption, table)

    def mix(self, chart: MixChart) -> str:
        targets = any(p.target_share is not None for p in chart.parts)
        headings = ["", "Amount", "Share", *(["Target", "Against target"] if targets else [])]
        rows = []
        for part in chart.parts:
            share = chart.share(part)
            row = [
                escape(part.label),
                chart_value(part.amount, chart.kind) + self.ref(part),
                percent(share),
            ]
            if targets:
                wanted = part.target_share
                gap = None if share is None or wanted is None else share - exact(wanted)
                row += [percent(wanted), _points(gap)]
            rows.append(row)
        right: Align = "right"
        align: list[Align] = ["left", *[right] * (len(headings) - 1)]
        return self.chart_text(chart.title, chart.caption, pipe_table(headings, rows, align))

    def chart_text(self, title: str, caption: str, table: str) -> str:
        text = self.caption(title) + table
        return text + (f"\n\n{escape(caption)}" if caption else "")

    def items(self, block: ItemList) -> str:
        head = self.caption(block.caption)
        if not block.items:
            return head + f"_{escape(block.empty)}_"
        return head + "\n".join(self.item(i) for i in block.items)

    def item(self, item: Item) -> str:
        about = [x for x in (item.kind, item.owner and f"owner {item.owner}") if x]
        if item.due is not None:
            about.append(f"due {day(item.due)}")
        line = f"- [{escape(item.status)}] {escape(item.title)}"
        if about:
            line += " · " + " · ".join(escape(a) for a in about)
        more = [escape(x) for x in (item.detail, item.metric and f"Metric: {item.metric}") if x]
        if item.deals:
            more.append("Deals: " + ", ".join(f"[{escape(d)}]" for d in item.deals))
        return line + "".join(f"\n  {m}" for m in more)

    @staticmethod
    def callout(block: Callout) -> str:
        title = f"**{escape(block.title)}:** " if block.title else ""
        return f"> {title}{escape(block.text)}"

    def appendix(self) -> str:
        appendix = self.doc.appendix
        assert appendix is not None
        parts = [f"## {escape(appendix.title)}"]
        if appendix.note:
            parts.append(escape(appendix.note))
        if self.doc.groups:
            lines = []
            for ref, group in self.doc.groups:
                ids = ", ".join(escape(d) for d in group.deal_ids)
                more = f" and {group.more:,} more" if group.more else ""
                lines.append(f"- [{escape(ref)}] {escape(group.title)}: {ids}{more}")
            parts.append("**Deal groups**\n\n" + "\n".join(lines))
        if appendix.deals:
            parts.append("**Deals**\n\n" + _deal_table(appendix))
        return "\n\n".join(parts)


def _points(gap: Decimal | None) -> str:
    """A difference of two shares in percentage points: ``+5 pts``."""
    if gap is None:
        return NONE
    return percent(gap, signed=True).removesuffix("%") + " pts"


def _deal_table(appendix: Appendix) -> str:
    columns = appendix.columns
    rows = [[escape(d.text(key)) for key, _, _ in columns] for d in appendix.deals]
    return pipe_table([label for _, label, _ in columns], rows, [a for _, _, a in columns])


def render_markdown(document: Document) -> str:
    """``document`` as Markdown text (ending in a newline)."""
    return _Writer(document).write()
