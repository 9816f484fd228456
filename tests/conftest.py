"""Shared test fixtures: temporary databases and the public data sets beside the repo."""

from __future__ import annotations

from pathlib import Path

import pytest
from testdata import SHARED_DATA

from quarterdeck.store import Store


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
