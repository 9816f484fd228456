"""A ZIP upload (a Salesforce data export as it is downloaded) is unpacked with limits and
imported like the folder it holds."""

from __future__ import annotations

import io
import time
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from testdata import TEST_DATA
from web_company import PASSWORD, log_in

from quarterdeck.errors import InputError
from quarterdeck.metrics.bookings import bookings
from quarterdeck.periods import Period
from quarterdeck.store import Store
from quarterdeck.web import create_app
from quarterdeck.web.pages import imports
from quarterdeck.web.pages.imports import unpack
from quarterdeck.workspace import Workspace

EXPORT = TEST_DATA / "salesforce"


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        for name, data in entries.items():
            book.writestr(name, data)
    return buffer.getvalue()


def _export_zip() -> bytes:
    """The Salesforce test export as its download: CSV files in a folder, and a note."""
    files = {f"export/{p.name}": p.read_bytes() for p in EXPORT.glob("*.csv")}
    return _zip({**files, "export/README.txt": b"not data"})


def test_a_zipped_export_imports_like_its_folder(tmp_path: Path) -> None:
    db = tmp_path / "q.duckdb"
    with Workspace(db) as ws:
        ws.add_login("leader@example.com", PASSWORD, "leader", by="test")
    app = create_app(str(db))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            csrf = log_in(client, "leader@example.com")
            started = client.post(
                "/api/imports",
                files={"file": ("salesforce-export.zip", _export_zip())},
                headers={"X-CSRF-Token": csrf},
            )
            assert started.status_code == 202, started.text
            job = started.json()
            deadline = time.monotonic() + 60
            while job["state"] == "running" and time.monotonic() < deadline:
                time.sleep(0.2)
                job = client.get(f"/api/imports/jobs/{job['job_id']}").json()
            assert job["state"] == "done", job
            assert job["rows_rejected"] == 0
    finally:
        app.state.hub.close()
    # The same figures as the folder's import (test_store: Q3 2023 won = 1,825,000).
    with Store(db, read_only=True) as store:
        assert bookings(store, Period.parse("2023-Q3")).bookings == Decimal("1825000.00")
    # Only the CSV files were unpacked, beside the upload, flat.
    unpacked = sorted(p.name for p in tmp_path.glob("uploads/*/export/*"))
    assert unpacked == sorted(p.name for p in EXPORT.glob("*.csv"))


def test_unpack_keeps_names_flat_inside_its_folder(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip({"../../escape.csv": b"a\n1\n", "deep/x/opportunity.csv": b"b\n"}))
    into = unpack(archive, tmp_path / "out")
    assert sorted(p.name for p in into.iterdir()) == ["escape.csv", "opportunity.csv"]
    assert not (tmp_path.parent / "escape.csv").exists()


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"notes.txt": b"x"}, "holds no .csv file"),
        ({"a/deals.csv": b"x", "b/deals.csv": b"y"}, "two files named deals.csv"),
    ],
)
def test_unpack_refuses_what_it_cannot_import(
    tmp_path: Path, entries: dict[str, bytes], message: str
) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip(entries))
    with pytest.raises(InputError, match=message):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unpack_stops_a_zip_bomb_by_what_it_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "MAX_UNPACKED", 10_000)
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(_zip({"deals.csv": b"0" * 50_000}))  # compresses to ~100 bytes
    assert archive.stat().st_size < 1_000
    with pytest.raises(InputError, match="unpacks to more than"):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
