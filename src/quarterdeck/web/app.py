"""The web app: :func:`create_app` builds it around one Workspace (see ``hub``).

The app only parses requests, calls the Workspace and renders; each page lives in its own
module under ``pages`` with its JSON twin under ``/api/``. Here are the rules every
response shares: the security headers, the error pages (a ``QuarterdeckError`` is a clear
message with 400, 404 or 409; anything else a 500 without a traceback), the login redirect
for pages and the 401 for the API.
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quarterdeck.errors import (
    ConfigError,
    DataError,
    InternalError,
    LoginRefused,
    NotAllowed,
    NotFound,
    QuarterdeckError,
)
from quarterdeck.web.context import LoggedOut, Refused, render
from quarterdeck.web.hub import Hub
from quarterdeck.web.jobs import Jobs
from quarterdeck.web.pages import auth, deals, forecast, imports, meeting, pipeline, settings
from quarterdeck.web.security import HEADERS

__all__ = ["create_app"]

log = logging.getLogger("quarterdeck.web")


def status_of(exc: QuarterdeckError) -> int:
    """The HTTP status of an error the user can act on."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, NotAllowed):
        return 403
    if isinstance(exc, LoginRefused):
        return 401
    if isinstance(exc, DataError):
        return 409
    if isinstance(exc, InternalError):
        return 500
    if isinstance(exc, ConfigError):
        return 503 if type(exc).__name__ == "MissingExtra" else 400
    return 400


def is_api(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path == "/api"


def failure(request: Request, status: int, message: str) -> Response:
    """An error as JSON for the API, as a page for a browser."""
    if is_api(request):
        return JSONResponse({"error": message, "status": status}, status_code=status)
    if request.headers.get("hx-request"):
        # An HTMX swap shows the message where the result would have gone.
        return render(request, "error_inline.html.j2", status_code=status, message=message)
    return render(request, "error.html.j2", status_code=status, message=message, code=status)


class Guard:
    """Outermost of our layers: adds the security headers to every response and turns an
    unexpected exception into a plain 500 (logged here; the client sees no traceback)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        static = str(scope["path"]).startswith("/static/")

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Cache-Control", "max-age=3600" if static else "no-store")
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            request = Request(scope)
            await failure(request, 500, "internal error: it was logged; please report it")(
                scope, receive, sending
            )


def create_app(db: str | None = None, *, hub: Hub | None = None, prepare: bool = False) -> FastAPI:
    """The Quarterdeck web app over database ``db`` (default: quarterdeck.duckdb here).
    ``prepare``: compute each login's meeting ahead, at start and after every import
    (``Hub``), as ``quarterdeck serve`` does."""
    app = FastAPI(
        title="Quarterdeck",
        summary="The weekly sales meeting, pipeline, forecast, imports and settings.",
        version="1",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.hub = hub or Hub(db, prepare=prepare)
    for module in (meeting, deals, forecast):
        app.state.hub.ahead(module.prepare)
    app.state.jobs = Jobs()

    @app.exception_handler(LoggedOut)
    async def logged_out(request: Request, exc: LoggedOut) -> Response:
        if is_api(request):
            return JSONResponse({"error": "log in first", "status": 401}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(auth.login_url(target), status_code=303)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return failure(request, 403, exc.message)

    @app.exception_handler(QuarterdeckError)
    async def known(request: Request, exc: QuarterdeckError) -> Response:
        status = status_of(exc)
        if status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
        return failure(request, status, str(exc))

    @app.exception_handler(HTTPException)
    async def http(request: Request, exc: HTTPException) -> Response:
        message = str(exc.detail) if exc.detail else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such page"
        response = failure(request, exc.status_code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(_problem(e) for e in exc.errors())
        if is_api(request):
            return JSONResponse(
                {"error": f"invalid request: {problems}", "status": 422, "detail": _plain(exc)},
                status_code=422,
            )
        return failure(request, 400, f"invalid request: {problems}")

    for module in (auth, meeting, pipeline, deals, forecast, imports, settings):
        app.include_router(module.router)
    brief_css = (resources.files("quarterdeck.report") / "templates" / "brief.css").read_text(
        "utf-8"
    )

    @app.get("/healthz", include_in_schema=False)
    def health() -> JSONResponse:
        # For load balancers and the load benchmark: up, and whether the logins' first
        # pages are computed ahead for the current data. Says nothing about the data.
        return JSONResponse({"status": "ok", "prepared": app.state.hub.prepared.is_set()})

    @app.get("/assets/brief.css", include_in_schema=False)
    def brief_styles() -> Response:
        # The brief's own styles, so the meeting page lays out tables and charts like it.
        return Response(brief_css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    static = resources.files("quarterdeck.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.add_middleware(Guard)
    app.state.hub.start_preparing()
    return app


def _problem(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))


def _plain(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
