"""The web app over a simulated company (``web_company``), once on a DuckDB file and once
on a new PostgreSQL database (the team-server mode): every HTTP test runs on both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from web_company import Company, build_company

from quarterdeck.web import create_app


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def company(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Company:
    folder = tmp_path_factory.mktemp(f"web-company-{request.param}")
    if request.param == "postgres":
        db = request.getfixturevalue("postgres_database")
    else:
        db = str(folder / "quarterdeck.duckdb")
    return build_company(db, request.param, folder)


@pytest.fixture(scope="module")
def app_client(company: Company) -> Iterator[TestClient]:
    app = create_app(company.db)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.hub.close()
