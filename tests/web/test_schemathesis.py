"""schemathesis against the app's OpenAPI schema, in-process over ASGI, with a session's
cookie and CSRF token: no request it makes, valid or not, may end in a server error. On a
DuckDB file and on PostgreSQL.

Every operation of the schema is called as the admin, and the meeting's writes (which the
admin's role may not make) as the leader too, with ``EXAMPLES`` valid and ``EXAMPLES``
invalid requests. ``POST /api/logout`` is left out of them (it would end the session the others
run under) and called once at the end instead.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from web_company import log_in

schemathesis = pytest.importorskip("schemathesis")

EXAMPLES = 20
"""Generated requests per operation and phase: enough to reach the odd inputs of each
parameter, few enough to keep the test near a minute on both engines."""


def _headers(client: TestClient, email: str) -> dict[str, str]:
    """The headers of a session of ``email``: its cookie and its CSRF token."""
    csrf = log_in(client, email)
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    client.cookies.clear()
    return {"Cookie": cookie, "X-CSRF-Token": csrf}


@pytest.fixture(scope="module")
def admin(app_client: TestClient) -> dict[str, str]:
    return _headers(app_client, "admin@example.com")


@pytest.fixture(scope="module")
def leader(app_client: TestClient) -> dict[str, str]:
    """The sales leader, who may write what the admin may not: items, calls, the record."""
    return _headers(app_client, "leader@example.com")


def _operations(app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if op.path != "/api/logout"]


def _fuzz(operation: Any, mode: Any, headers: dict[str, str]) -> None:
    """Send ``EXAMPLES`` requests that hypothesis makes for ``operation`` in ``mode``."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.generate],
    )
    def call(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=[schemathesis.checks.not_a_server_error])

    call()


def test_no_server_errors(
    app_client: TestClient, admin: dict[str, str], leader: dict[str, str]
) -> None:
    """Every operation as the admin, and the meeting's writes as the leader too, with valid
    and with invalid requests (``EXAMPLES`` of each)."""
    from schemathesis import GenerationMode

    operations = _operations(app_client.app)
    assert len(operations) >= 25
    runs = [(op, admin) for op in operations] + [
        (op, leader)
        for op in operations
        if op.method.upper() == "POST" and op.path.startswith(("/api/meeting", "/api/forecast"))
    ]
    failures: list[str] = []
    for operation, headers in runs:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, headers)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing in it can be made invalid
            except Exception as exc:  # every failing operation is listed, not the first only
                who = "leader" if headers is leader else "admin"
                failures.append(f"{operation.label} as {who} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)


def test_the_sessions_held_and_logout(
    app_client: TestClient, admin: dict[str, str], leader: dict[str, str]
) -> None:
    """The generated calls ran under the sessions to the end; logout ends one."""
    assert app_client.get("/api/session", headers=leader).status_code == 200
    assert app_client.get("/api/session", headers=admin).status_code == 200
    assert app_client.post("/api/logout", headers=admin).status_code == 204
    assert app_client.get("/api/session", headers=admin).status_code == 401
