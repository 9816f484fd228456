"""Shared test fixtures: temporary databases and the public data sets beside the repo."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from testdata import SHARED_DATA

from quarterdeck.store import Store


@pytest.fixture(scope="session", autouse=True)
def files_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Rejected rows and uploads of stores on PostgreSQL go to a temporary folder, not
    into the folder the tests run from."""
    folder = tmp_path_factory.mktemp("files")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUARTERDECK_FILES", str(folder))
        yield folder


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "test.duckdb")
    yield s
    s.close()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"public data sets not present at {SHARED_DATA}")
    return SHARED_DATA


POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
"""The PostgreSQL server of this machine (trust auth); tests make a database of their own on it."""


def postgres_up() -> bool:
    """Whether the PostgreSQL server answers on 127.0.0.1:5432."""
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def new_postgres_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards, so that tests
    running at the same time never share tables."""
    if not postgres_up():
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432 (trust auth) to test against")
    import uuid

    import psycopg

    name = f"qd_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new PostgreSQL database for one test."""
    with new_postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """A new PostgreSQL database shared by the tests of one module."""
    with new_postgres_database() as url:
        yield url
