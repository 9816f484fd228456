"""The web app's rules for everyone: login redirect and 401, CSRF, headers, scope, uploads,
formula neutralisation."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from web_company import PASSWORD, Company, log_in, login_token

from quarterdeck.web.pages import imports
from quarterdeck.web.security import csv_text, neutralise


def test_neutralise_by_hand() -> None:
    assert neutralise("=1+2") == "'=1+2"
    assert neutralise("+1") == "'+1"
    assert neutralise("-1") == "'-1"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("\tx") == "'\tx"
    assert neutralise("\rx") == "'\rx"
    assert neutralise("a=b") == "a=b"
    assert neutralise(None) == ""
    assert neutralise(12) == "12"
    assert csv_text(["a", "b"], [["=cmd", "ok"]]) == "a,b\r\n'=cmd,ok\r\n"


def test_anonymous_page_redirects_and_api_is_401(app_client: TestClient) -> None:
    app_client.cookies.clear()
    page = app_client.get("/meeting?week=2026-W47", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fmeeting%3Fweek%3D2026-W47"
    api = app_client.get("/api/meeting")
    assert api.status_code == 401
    assert api.json() == {"error": "log in first", "status": 401}
    assert app_client.get("/api/deals/anything").status_code == 401


def test_security_headers_on_every_response(app_client: TestClient) -> None:
    app_client.cookies.clear()
    for path in ("/login", "/api/meeting", "/static/app.js", "/no-such-page", "/openapi.json"):
        headers = app_client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, path
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


def test_session_cookie_flags(app_client: TestClient) -> None:
    log_in(app_client, "ceo@example.com")
    token = login_token(app_client)
    plain = app_client.post(
        "/login",
        data={
            "email": "ceo@example.com",
            "password": PASSWORD,
            "csrf": token,
        },
        follow_redirects=False,
    )
    cookie = plain.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    token = login_token(app_client)
    proxied = app_client.post(
        "/login",
        data={
            "email": "ceo@example.com",
            "password": PASSWORD,
            "csrf": token,
        },
        headers={"X-Forwarded-Proto": "https"},
        follow_redirects=False,
    )
    assert "secure" in proxied.headers["set-cookie"].lower()


def test_wrong_password_is_refused_on_the_page(app_client: TestClient) -> None:
    app_client.cookies.clear()
    token = login_token(app_client)
    refused = app_client.post(
        "/login", data={"email": "ceo@example.com", "password": "wrong", "csrf": token}
    )
    assert refused.status_code == 401
    assert "quarterdeck_session" not in refused.headers.get("set-cookie", "")


def test_writes_without_csrf_token_are_refused(app_client: TestClient) -> None:
    csrf = log_in(app_client, "leader@example.com")
    body = {"kind": "issue", "title": "Hiring plan for Q1?"}
    assert app_client.post("/api/meeting/items", json=body).status_code == 403
    wrong = app_client.post("/api/meeting/items", json=body, headers={"X-CSRF-Token": "x" * 40})
    assert wrong.status_code == 403
    form = app_client.post("/meeting/items", data=body, follow_redirects=False)
    assert form.status_code == 403
    made = app_client.post("/api/meeting/items", json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    assert made.json()["title"] == "Hiring plan for Q1?"


def test_every_state_changing_route_checks_the_token(app_client: TestClient) -> None:
    log_in(app_client, "admin@example.com")
    routes = [
        r
        for r in _routes(app_client.app.routes)  # type: ignore[attr-defined]
        if r.methods & {"POST", "PUT", "PATCH", "DELETE"}
    ]
    assert len(routes) >= 15
    for route in routes:
        if route.path == "/login":
            continue  # checked against the login form's own cookie token
        path = route.path.replace("{item_id}", "I-1").replace("{job_id}", "x")
        response = app_client.post(path, data={"kind": "issue", "title": "t"})
        assert response.status_code == 403, (route.path, response.status_code)


def _routes(routes: list[Any]) -> list[APIRoute]:
    """Every route, those of included routers too (FastAPI keeps them nested)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and hasattr(inner, "routes"):
            found.extend(_routes(inner.routes))
    return found


def test_deal_outside_scope_is_404_like_an_unknown_id(
    app_client: TestClient, company: Company
) -> None:
    log_in(app_client, "a@example.com")
    assert app_client.get(f"/deals/{company.deal_of_a}").status_code == 200
    own = app_client.get(f"/api/deals/{company.deal_of_a}")
    assert own.status_code == 200 and own.json()["deal"]["owner_id"] == company.rep_a
    other = app_client.get(f"/api/deals/{company.deal_of_b}")
    unknown = app_client.get("/api/deals/NO-SUCH-DEAL")
    assert other.status_code == unknown.status_code == 404
    assert other.json()["error"].replace(company.deal_of_b, "X") == unknown.json()["error"].replace(
        "NO-SUCH-DEAL", "X"
    )
    assert app_client.get(f"/deals/{company.deal_of_b}").status_code == 404
    listed = app_client.get("/api/deals?status=all").json()
    assert {d["owner_id"] for d in listed["deals"]} == {company.rep_a}
    by_id = app_client.get(f"/api/deals?status=all&ids={company.deal_of_b}").json()
    assert by_id["total"] == 0


def test_upload_limits(app_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    csrf = log_in(app_client, "leader@example.com")
    headers = {"X-CSRF-Token": csrf}
    wrong_type = app_client.post(
        "/api/imports", files={"file": ("notes.txt", b"hello")}, headers=headers
    )
    assert wrong_type.status_code == 400
    assert ".csv export, or a .zip of .csv files" in wrong_type.json()["error"]
    excel = app_client.post(
        "/api/imports", files={"file": ("deals.xlsx", b"PK\x03\x04...")}, headers=headers
    )
    assert excel.status_code == 400
    assert "Save As > CSV UTF-8" in excel.json()["error"]
    fake_zip = app_client.post(
        "/api/imports", files={"file": ("export.zip", b"id,amount\n1,2\n")}, headers=headers
    )
    assert fake_zip.status_code == 400
    assert "not a zip file" in fake_zip.json()["error"]
    monkeypatch.setattr(imports, "MAX_UPLOAD", 1024)
    large = app_client.post(
        "/api/imports", files={"file": ("big.csv", b"a,b\n" + b"1,2\n" * 600)}, headers=headers
    )
    assert large.status_code == 400
    assert "larger than" in large.json()["error"]
    log_in(app_client, "ceo@example.com")
    assert app_client.get("/api/session").json()["viewer"]["role"] == "ceo"
