"""A document as PDF: the HTML page laid out for print by WeasyPrint.

WeasyPrint is the optional extra ``pdf`` (``pip install 'quarterdeck[pdf]'``); without it
the PDF is a :class:`~quarterdeck.errors.MissingExtra` that says so. It needs the Pango
library of the system, which a missing one turns into a :class:`ConfigError`. The page
fetches nothing: any URL WeasyPrint would load is refused, so a PDF is made offline and
the same from the same document.
"""

from __future__ import annotations

from typing import Any, NoReturn

from quarterdeck.errors import ConfigError, MissingExtra
from quarterdeck.report.document import Document
from quarterdeck.report.html import render_html

__all__ = ["render_pdf"]


def _weasyprint() -> Any:
    try:
        import weasyprint
    except ImportError as exc:
        raise MissingExtra("PDF output", "pdf") from exc
    except OSError as exc:  # WeasyPrint loads Pango when imported
        raise ConfigError(
            f"PDF output needs the Pango library (apt-get install libpango-1.0-0): {exc}"
        ) from exc
    return weasyprint


def _refuse(url: str, *args: object, **kwargs: object) -> NoReturn:
    raise ValueError(f"the brief fetches nothing, not even {url}")


def render_pdf(document: Document) -> bytes:
    """``document`` as the bytes of a PDF file (A4, page numbers, the appendix linked)."""
    weasyprint = _weasyprint()
    html = weasyprint.HTML(string=render_html(document, print_form=True), url_fetcher=_refuse)
    pdf: bytes = html.write_pdf()
    return pdf
