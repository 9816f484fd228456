"""What every response and every write of the web app must respect: security headers, the
session cookie, CSRF tokens, and spreadsheet formulas neutralised in exports.

The rules live here once, so no page can forget one:

* every response carries the headers of :data:`HEADERS` (a Content-Security-Policy that
  allows scripts from this site only, none inline; no framing; no MIME sniffing);
* the session cookie is HttpOnly and SameSite=Lax, and Secure when the request came over
  HTTPS (directly, or as a proxy's ``X-Forwarded-Proto: https`` says);
* a state-changing request must carry the session's CSRF token, in the form field
  ``csrf`` or the header ``X-CSRF-Token``; compared in constant time;
* a cell of a CSV export that a spreadsheet would run as a formula (it starts with
  ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written with a leading
  apostrophe, so it is read as text.
"""

from __future__ import annotations

import csv
import hmac
import io
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "HEADERS",
    "NUL_REFUSED",
    "SESSION_COOKIE",
    "csv_text",
    "holds_nul",
    "is_https",
    "neutralise",
    "same_token",
    "set_cookie",
]

SESSION_COOKIE = "quarterdeck_session"
LOGIN_COOKIE = "quarterdeck_login"
"""Holds the CSRF token of the login form (there is no session yet to hold it)."""
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCUMENT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
)
"""For a downloaded brief: a self-contained page with inline CSS and SVG, and no script."""

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """``value`` as the text of a CSV cell that no spreadsheet runs as a formula: text
    starting with ``= + - @``, a tab or a carriage return gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A CSV file of ``rows`` under ``header``, every cell through :func:`neutralise`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return out.getvalue()


def is_https(request: Request) -> bool:
    """Whether the browser reached us over HTTPS (here, or at a proxy that says so)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None
) -> None:
    """Set cookie ``name`` HttpOnly, SameSite=Lax, path /, Secure over HTTPS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def same_token(given: str | None, expected: str | None) -> bool:
    """Whether a submitted CSRF token is the expected one (constant-time compare)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


NUL_REFUSED = "text may not hold a NUL character (\\x00): remove it and try again"


def holds_nul(value: object) -> bool:
    """Whether ``value`` (text, or lists and mappings of it as JSON decodes) holds a NUL
    character. PostgreSQL can neither store one nor take one in a query, so the app refuses
    such input with a 400 rather than fail on it."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(holds_nul(v) for v in value)
    return False
