"""A document as ONE self-contained HTML file: inline CSS, inline SVG charts, no scripts and
nothing fetched from anywhere, so it can be mailed, archived and printed as it is.

The page comes from the Jinja2 template ``templates/brief.html.j2`` (package data) with
autoescape on, so every text of the document is escaped; only the SVG of the charts, which
:mod:`quarterdeck.report.charts` escapes itself, is inserted as markup. Every number made
of deals links to the appendix: one deal to its row (``#deal-<id>``), several to the group
that lists them (``#group-<id>``). The print styles (A4, page numbers, page breaks before
the appendix and sections marked ``new_page``) are what the PDF is made from.
"""

from __future__ import annotations

from functools import cache

import jinja2
from markupsafe import Markup

from quarterdeck.report import charts
from quarterdeck.report.document import (
    BarChart,
    Block,
    Callout,
    Chart,
    Deal,
    DealGroup,
    Document,
    ItemList,
    Linked,
    MixChart,
    PaceChart,
    Table,
    WaterfallChart,
)
from quarterdeck.report.format import day, moment, percent

__all__ = ["TEMPLATE", "render_html"]

TEMPLATE = "brief.html.j2"
"""The page template, in ``quarterdeck/report/templates``."""


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("quarterdeck.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["day"] = day
    env.filters["moment"] = moment
    env.filters["percent"] = percent
    env.globals["block_kind"] = _block_kind
    return env


def _block_kind(block: Block) -> str:
    if isinstance(block, Table):
        return "table"
    if isinstance(block, BarChart | WaterfallChart | PaceChart | MixChart):
        return "chart"
    if isinstance(block, ItemList):
        return "items"
    if isinstance(block, Callout):
        return "callout"
    raise TypeError(f"not a block: {block!r}")


def render_html(document: Document, *, print_form: bool = False) -> str:
    """``document`` as one self-contained HTML page. ``print_form`` writes the appendix's
    deals as compact lines instead of a table (for the PDF: long tables are slow to lay
    out and take many pages)."""

    def href(linked: Linked) -> str | None:
        link = document.link(linked)
        return None if link is None else f"#{link.anchor}"

    def svg(chart: Chart) -> Markup:
        # The SVG text is built escaped by charts.svg; marking it safe keeps it as markup.
        return Markup(charts.svg(chart, href))

    def deals_of(group: DealGroup) -> list[Deal]:
        return [document.deal(i) for i in group.deal_ids]

    template = _environment().get_template(TEMPLATE)
    return template.render(
        doc=document, href=href, svg=svg, deals_of=deals_of, print_form=print_form
    )
