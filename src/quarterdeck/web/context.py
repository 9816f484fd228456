"""Who is asking, and what every page needs to answer: the viewer of the session cookie,
the CSRF check of writes, the permission check, and the page templates.

A page and its JSON twin share these dependencies: :func:`viewer` for reads, :func:`writer`
for writes (the viewer, after the CSRF token is checked). An anonymous request raises
:class:`LoggedOut`, which the app turns into a redirect to /login for a page and a 401 for
the API, so no route decides that for itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import jinja2
from fastapi import Depends, Request
from starlette.responses import HTMLResponse

from quarterdeck.errors import InputError
from quarterdeck.report.format import day, moment, money, money_short, percent
from quarterdeck.web.hub import RECORD, Hub
from quarterdeck.web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    NUL_REFUSED,
    SESSION_COOKIE,
    holds_nul,
    same_token,
)

if TYPE_CHECKING:
    from quarterdeck.access import Session, Viewer

__all__ = [
    "Asker",
    "LoggedOut",
    "Refused",
    "asker",
    "hub_of",
    "render",
    "writer",
]

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class LoggedOut(Exception):
    """No valid session: a page redirects to the login, the API answers 401."""


class Refused(Exception):
    """The viewer may not do this (403), or a write came without its CSRF token."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Asker:
    """The viewer behind a request, their session and the app's hub."""

    viewer: Viewer
    session: Session
    hub: Hub
    request: Request

    @property
    def by(self) -> str:
        """How writes name this viewer (items' ``by``, the audit log): the login's email."""
        return self.viewer.email

    def require(self, action: str) -> None:
        """Refuse (NotAllowed, 403) unless the viewer's role allows ``action``."""
        self.viewer.require(action)

    def read(
        self,
        endpoint: str,
        params: Any,
        job: Any,
        *,
        shared: bool = False,
        depends: tuple[str, ...] = RECORD,
    ) -> Any:
        """``job``'s answer for this viewer, cached (``shared``: it reads the deal data
        alone; ``depends``: the parts of the meeting record it reads; see ``Hub``)."""
        return self.hub.read(self.viewer, endpoint, params, job, shared=shared, depends=depends)

    def write(self, job: Any, *, touches: str | None = None) -> Any:
        """Run the change ``job`` (``touches``: the one part of the meeting record it
        changes, or None when it may change anything; see ``Hub``)."""
        return self.hub.write(self.viewer, job, touches=touches)


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def asker(request: Request) -> Asker:
    """The viewer of the session cookie, or :class:`LoggedOut`."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoggedOut()
    hub = hub_of(request)
    found = hub.session(token)
    if found is None:
        raise LoggedOut()
    viewer, session = found
    if holds_nul(request.scope["path"]) or holds_nul(request.query_params.multi_items()):
        raise InputError(NUL_REFUSED)
    return Asker(viewer, session, hub, request)


async def writer(request: Request, who: Asker = Depends(asker)) -> Asker:  # noqa: B008
    """:func:`asker`, for a state-changing request: its CSRF token must match the session's,
    from the header ``X-CSRF-Token`` or the form field ``csrf``."""
    given = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(FORM_TYPES):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if given is None and isinstance(value, str) else given
        sent: Any = [v for v in form.values() if isinstance(v, str)]
    elif content_type.startswith("application/json"):
        try:
            sent = json.loads(await request.body())
        except ValueError:
            sent = None  # the route's own parsing says what is wrong with it
    else:
        sent = None
    if not same_token(given, who.session.csrf):
        raise Refused("the form's security token is missing or out of date: reload the page")
    if holds_nul(sent):
        raise InputError(NUL_REFUSED)
    return who


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("quarterdeck.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["day"] = day
    env.filters["moment"] = moment
    env.filters["money"] = money
    env.filters["short"] = money_short
    env.filters["percent"] = percent
    return env


def render(
    request: Request,
    template: str,
    who: Asker | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """``template`` rendered with ``context``, the viewer and the CSRF token."""
    page = _environment().get_template(template)
    html = page.render(
        request=request,
        viewer=who.viewer if who else None,
        csrf=who.session.csrf if who else context.pop("csrf", ""),
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)
