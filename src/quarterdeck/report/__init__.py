"""Reports: a generic :class:`Document` and its four faces, Markdown, HTML, PDF and JSON.

Code that turns metric results into a report builds a ``Document`` (sections, tables,
charts, items, an appendix of deals) and never formats a number; :func:`render` lays it
out in the format asked for, and :func:`write` saves it to a file named by its format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from quarterdeck.errors import InputError
from quarterdeck.report.document import (
    Appendix,
    Bar,
    BarChart,
    Block,
    Callout,
    Cell,
    Chart,
    Column,
    Deal,
    DealGroup,
    Document,
    Item,
    ItemList,
    Link,
    MixChart,
    MixPart,
    PaceChart,
    PacePoint,
    Section,
    Step,
    Table,
    WaterfallChart,
    row,
)
from quarterdeck.report.html import render_html
from quarterdeck.report.markdown import render_markdown
from quarterdeck.report.pdf import render_pdf

__all__ = [
    "FORMATS",
    "Appendix",
    "Bar",
    "BarChart",
    "Block",
    "Callout",
    "Cell",
    "Chart",
    "Column",
    "Deal",
    "DealGroup",
    "Document",
    "Format",
    "Item",
    "ItemList",
    "Link",
    "MixChart",
    "MixPart",
    "PaceChart",
    "PacePoint",
    "Section",
    "Step",
    "Table",
    "WaterfallChart",
    "format_of",
    "render",
    "render_html",
    "render_json",
    "render_markdown",
    "render_pdf",
    "row",
    "write",
]

Format = Literal["html", "md", "pdf", "json"]

FORMATS: dict[str, Format] = {
    ".html": "html",
    ".htm": "html",
    ".md": "md",
    ".markdown": "md",
    ".pdf": "pdf",
    ".json": "json",
}
"""File suffixes and the format each means."""


def render_json(document: Document) -> str:
    """``document`` as JSON text: :meth:`Document.to_json`."""
    return document.to_json()


def render(document: Document, fmt: Format) -> str | bytes:
    """``document`` in format ``fmt``: text for html, md and json, bytes for pdf."""
    if fmt == "html":
        return render_html(document)
    if fmt == "md":
        return render_markdown(document)
    if fmt == "json":
        return render_json(document)
    if fmt == "pdf":
        return render_pdf(document)
    raise InputError(f"unknown report format {fmt!r}: expected html, md, pdf or json")


def format_of(path: Path) -> Format:
    """The format a file name asks for by its suffix (``brief.pdf`` is pdf)."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise InputError(
            f"cannot tell the report format of {path.name}: name it .html, .md, .pdf or .json"
        ) from None


def write(document: Document, path: Path, fmt: Format | None = None) -> Path:
    """Write ``document`` to ``path`` in ``fmt`` (by default, the format its suffix names)."""
    content = render(document, fmt or format_of(path))
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path
