"""Logging in and out: the login page, the session cookie, and ``/api/session`` (who am I).

The login form carries a CSRF token too: a random one set in a short-lived cookie with the
form and required back in the form field (there is no session yet to hold it). A refused
login says one thing for any wrong email or password; throttling and lockout are the
Workspace's (``Workspace.log_in``).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from quarterdeck.access.logins import REFUSED
from quarterdeck.errors import LoginRefused
from quarterdeck.web.context import Asker, asker, hub_of, render, writer
from quarterdeck.web.models import SessionOut, viewer_out
from quarterdeck.web.security import LOGIN_COOKIE, SESSION_COOKIE, holds_nul, same_token, set_cookie

__all__ = ["login_url", "router"]

router = APIRouter()

HOME = "/meeting"


def login_url(next_path: str) -> str:
    return "/login" if next_path in ("", "/") else f"/login?next={quote(next_path, safe='')}"


def _safe_next(value: str | None) -> str:
    """Where to go after logging in: a path of this site only (no //host, no scheme)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return HOME
    return value


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _login_page(request: Request, next_path: str, message: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html.j2",
        status_code=status,
        csrf=token,
        next=_safe_next(next_path),
        message=message,
    )
    set_cookie(response, request, LOGIN_COOKIE, token, max_age=3600)
    return response


@router.get("/", include_in_schema=False)
def home() -> Response:
    return RedirectResponse(HOME, status_code=303)


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next or HOME)


@router.post("/login", include_in_schema=False)
def log_in(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    if not same_token(csrf, request.cookies.get(LOGIN_COOKIE)):
        return _login_page(request, next, "The form was out of date: please try again.", 403)
    hub = hub_of(request)
    try:
        if holds_nul(email):  # no login holds one, and PostgreSQL cannot look one up
            raise LoginRefused(REFUSED)
        viewer = hub.call(lambda ws: ws.log_in(email, password, client=_client(request)))
        session = hub.call(lambda ws: ws.open_session(viewer))
    except LoginRefused as exc:
        return _login_page(request, next, str(exc), 401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    max_age = max(60, int((session.expires - _now()).total_seconds()))
    set_cookie(response, request, SESSION_COOKIE, session.token, max_age=max_age)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def _now() -> datetime:
    """Now as sessions keep time: naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


@router.post("/logout", include_in_schema=False)
def log_out(request: Request, who: Annotated[Asker, Depends(writer)]) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    who.hub.call(lambda ws: ws.close_session(token))
    who.hub.forget_session(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/session", response_model=SessionOut, tags=["session"])
def session(who: Annotated[Asker, Depends(asker)]) -> SessionOut:
    """Who is logged in, what their role allows, and the CSRF token for writes (send it
    back in the ``X-CSRF-Token`` header)."""
    return SessionOut(viewer=viewer_out(who.viewer), csrf=who.session.csrf)


@router.post("/api/logout", tags=["session"], status_code=204)
def api_log_out(request: Request, who: Annotated[Asker, Depends(writer)]) -> Response:
    """End this session."""
    token = request.cookies.get(SESSION_COOKIE, "")
    who.hub.call(lambda ws: ws.close_session(token))
    who.hub.forget_session(token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
