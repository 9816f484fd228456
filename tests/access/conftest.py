"""Fixtures of the access tests: the hand-written company of ``access_company`` in a DuckDB
file and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from access_company import add_logins, write_company

from quarterdeck.workspace import Workspace


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[Workspace]:
    """The company with its logins in a DuckDB file."""
    with Workspace(tmp_path / "access.duckdb") as ws:
        write_company(ws.store)
        add_logins(ws)
        yield ws


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Workspace]:
    """An empty DuckDB workspace."""
    with Workspace(tmp_path / "empty.duckdb") as ws:
        yield ws


@pytest.fixture(params=["duckdb", "postgres"])
def company(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """The company with its logins, on DuckDB and on PostgreSQL (a database of its own,
    dropped afterwards; skipped with the reason when no server answers)."""
    if request.param == "duckdb":
        with Workspace(tmp_path / "access.duckdb") as ws:
            write_company(ws.store)
            add_logins(ws)
            yield ws
        return
    url = request.getfixturevalue("postgres_url")
    with Workspace(url) as ws:
        write_company(ws.store)
        add_logins(ws)
        yield ws
