"""Settings: targets, the target mix and risk thresholds (roles that may edit settings),
and logins with their roles (admin only)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from pydantic import BaseModel, Field
from starlette.responses import RedirectResponse, Response

from quarterdeck.errors import InputError
from quarterdeck.settings import SETTINGS
from quarterdeck.web.context import Asker, asker, render, writer
from quarterdeck.web.models import money

__all__ = ["router"]

router = APIRouter()


class SettingOut(BaseModel):
    key: str
    value: Any
    help: str


class TargetOut(BaseModel):
    period_start: str
    period_end: str
    scope: str
    scope_id: str
    amount: str | None


class LoginOut(BaseModel):
    email: str
    name: str | None
    role: str
    user_id: str | None
    disabled: bool


class SettingsOut(BaseModel):
    settings: list[SettingOut]
    targets: list[TargetOut]
    logins: list[LoginOut] | None = Field(description="Only for an admin.")


def _target_out(t: Any) -> TargetOut:
    return TargetOut(
        period_start=str(getattr(t, "period_start", "")),
        period_end=str(getattr(t, "period_end", "")),
        scope=str(getattr(t, "scope", "company")),
        scope_id=str(getattr(t, "scope_id", "") or ""),
        amount=money(getattr(t, "amount", None)),
    )


def _login_out(login: Any) -> LoginOut:
    return LoginOut(
        email=login.email,
        name=getattr(login, "name", None),
        role=login.role,
        user_id=getattr(login, "user_id", None),
        disabled=bool(getattr(login, "disabled", False)),
    )


def settings_out(who: Asker) -> SettingsOut:
    def build(ws: Any) -> SettingsOut:
        values = ws.settings.values()
        logins = [_login_out(x) for x in ws.logins()] if who.viewer.can("manage_users") else None
        return SettingsOut(
            settings=[SettingOut(key=k, value=values[k], help=s.help) for k, s in SETTINGS.items()],
            targets=[_target_out(t) for t in ws.targets()],
            logins=logins,
        )

    result: SettingsOut = who.read("settings", None, build)
    return result


@router.get("/settings", include_in_schema=False)
def settings_page(request: Request, who: Annotated[Asker, Depends(asker)]) -> Response:
    return render(
        request,
        "settings.html.j2",
        who,
        out=settings_out(who),
        json=json.dumps,
        can_edit=who.viewer.can("edit_settings"),
        can_manage=who.viewer.can("manage_users"),
    )


@router.get("/api/settings", response_model=SettingsOut, tags=["settings"])
def settings_api(who: Annotated[Asker, Depends(asker)]) -> SettingsOut:
    """Every setting with its value and meaning, the targets, and (for an admin) the logins."""
    return settings_out(who)


class SettingIn(BaseModel):
    key: str = Field(max_length=100)
    value: str | None = Field(max_length=5000, description="JSON; null restores the default.")


class TargetIn(BaseModel):
    period: str = Field(max_length=20, description="2024-Q3, 2024-07, 2024...")
    amount: str = Field(max_length=30)
    scope: str = Field(default="company", max_length=20)
    scope_id: str = Field(default="", max_length=200)


class LoginIn(BaseModel):
    email: str = Field(max_length=320)
    password: str | None = Field(default=None, max_length=1024)
    role: str | None = Field(default=None, max_length=20)
    user_id: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    disabled: bool | None = None


def set_setting(who: Asker, body: SettingIn) -> None:
    who.require("edit_settings")
    who.write(lambda ws: ws.settings.set(body.key, body.value))


def set_target(who: Asker, body: TargetIn) -> None:
    who.require("edit_settings")
    amount = body.amount.replace(",", "").strip()
    who.write(
        lambda ws: ws.set_target(
            body.period, amount, scope=body.scope, scope_id=body.scope_id, by=who.by
        )
    )


def save_login(who: Asker, body: LoginIn, new: bool) -> None:
    who.require("manage_users")
    if new:
        if not body.password or not body.role:
            raise InputError("a new login needs a password and a role")
        who.write(
            lambda ws: ws.add_login(
                body.email,
                body.password,
                body.role,
                user_id=body.user_id or None,
                name=body.name or None,
                by=who.by,
            )
        )
        return
    changes = {
        k: v
        for k, v in body.model_dump(exclude={"email"}).items()
        if v not in (None, "") and k in body.model_fields_set
    }
    who.write(lambda ws: ws.update_login(body.email, by=who.by, **changes))


@router.post("/api/settings", status_code=204, tags=["settings"])
def setting_api(who: Annotated[Asker, Depends(writer)], body: SettingIn) -> Response:
    """Store a setting's value (JSON), or restore its default with null."""
    set_setting(who, body)
    return Response(status_code=204)


@router.post("/api/settings/targets", status_code=204, tags=["settings"])
def target_api(who: Annotated[Asker, Depends(writer)], body: TargetIn) -> Response:
    """Set the target of a period for the company, a team, a rep, a segment or a motion."""
    set_target(who, body)
    return Response(status_code=204)


@router.post("/api/settings/logins", status_code=204, tags=["settings"])
def login_api(who: Annotated[Asker, Depends(writer)], body: LoginIn) -> Response:
    """Add a login (with password and role), admin only."""
    save_login(who, body, new=True)
    return Response(status_code=204)


@router.post("/api/settings/logins/update", status_code=204, tags=["settings"])
def login_update_api(who: Annotated[Asker, Depends(writer)], body: LoginIn) -> Response:
    """Change a login's role, CRM user, name, password or disabled flag, admin only."""
    save_login(who, body, new=False)
    return Response(status_code=204)


@router.post("/settings", include_in_schema=False)
def setting_form(
    who: Annotated[Asker, Depends(writer)],
    key: Annotated[str, Form(max_length=100)],
    value: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    set_setting(who, SettingIn(key=key, value=value.strip() or None))
    return RedirectResponse("/settings#settings", status_code=303)


@router.post("/settings/targets", include_in_schema=False)
def target_form(
    who: Annotated[Asker, Depends(writer)],
    period: Annotated[str, Form(max_length=20)],
    amount: Annotated[str, Form(max_length=30)],
    scope: Annotated[str, Form(max_length=20)] = "company",
    scope_id: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    set_target(who, TargetIn(period=period, amount=amount, scope=scope, scope_id=scope_id))
    return RedirectResponse("/settings#targets", status_code=303)


@router.post("/settings/logins", include_in_schema=False)
def login_form(
    who: Annotated[Asker, Depends(writer)],
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    user_id: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    disabled: Annotated[str, Form(max_length=5)] = "",
    new: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    fields: dict[str, Any] = {"email": email}
    for key, value in (
        ("password", password),
        ("role", role),
        ("user_id", user_id),
        ("name", name),
    ):
        if value:
            fields[key] = value
    if disabled:
        fields["disabled"] = disabled == "yes"
    save_login(who, LoginIn.model_validate(fields), new=new == "yes")
    return RedirectResponse("/settings#logins", status_code=303)
