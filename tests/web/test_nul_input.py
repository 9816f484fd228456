"""Text holding a NUL character is refused with a clear 400 on every engine (PostgreSQL can
neither store one nor search for one, and used to answer such requests with a 500)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_company import Company, log_in, login_token

NUL = "a\x00b"
REFUSED = "text may not hold a NUL character (\\x00): remove it and try again"


@pytest.mark.parametrize(
    "path",
    [
        "/api/deals?team=a%00b",
        "/api/deals?ids=a%00b",
        "/api/pipeline?stage=a%00b",
        "/api/deals.csv?segment=a%00b",
        "/api/deals/a%00b",
        "/api/meeting/drill?ref=a%00b",
    ],
)
def test_a_nul_in_a_query_or_path(app_client: TestClient, path: str) -> None:
    log_in(app_client, "ceo@example.com")
    response = app_client.get(path)
    assert response.status_code == 400
    assert response.json()["error"] == REFUSED
    page = app_client.get(path.replace("/api/", "/", 1))
    assert page.status_code in (400, 404)  # not every API path has a page twin


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/meeting/items", {"kind": "issue", "title": NUL}),
        ("/api/meeting/items", {"kind": "risk", "title": "x", "deals": [NUL]}),
        ("/api/meeting/notes", {"text": NUL}),
        ("/api/meeting/calls", {"commit": "1", "best_case": "2", "note": NUL}),
    ],
)
def test_a_nul_in_a_write(app_client: TestClient, path: str, body: dict[str, Any]) -> None:
    csrf = log_in(app_client, "leader@example.com")
    response = app_client.post(path, json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 400
    assert response.json()["error"] == REFUSED
    form = app_client.post(
        path.removeprefix("/api"),
        data={"csrf": csrf, **{k: v if isinstance(v, str) else v[0] for k, v in body.items()}},
        follow_redirects=False,
    )
    assert form.status_code == 400


def test_a_nul_in_settings_and_at_login(app_client: TestClient, company: Company) -> None:
    csrf = log_in(app_client, "admin@example.com")
    target = app_client.post(
        "/api/settings/targets",
        json={"period": "2026-Q4", "amount": "5", "scope": "rep", "scope_id": NUL},
        headers={"X-CSRF-Token": csrf},
    )
    assert target.status_code == 400
    app_client.cookies.clear()
    token = login_token(app_client)
    refused = app_client.post(
        "/login", data={"email": "ceo\x00@example.com", "password": "x", "csrf": token}
    )
    assert refused.status_code == 401 and "wrong email or password" in refused.text
