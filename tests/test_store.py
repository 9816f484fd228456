"""The store: schema versions, clear errors on open, and the same numbers on every engine."""

from __future__ import annotations

import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from testdata import TEST_DATA

from quarterdeck.errors import ConfigError, DataError
from quarterdeck.importer import ImportRequest, run_import
from quarterdeck.metrics import bookings, pipeline_by_stage, win_rate
from quarterdeck.model import SCHEMA_VERSION, TABLES
from quarterdeck.periods import Period
from quarterdeck.store import Store

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def test_new_database_is_at_the_current_schema(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.duckdb")
    assert store.schema_version() == SCHEMA_VERSION
    assert set(TABLES) <= set(store.backend.list_tables())
    store.close()
    again = Store(tmp_path / "q.duckdb")  # opening again migrates nothing
    rows = again.backend.raw_sql("SELECT count(*) FROM schema_version").fetchone()
    assert rows == (SCHEMA_VERSION,)
    again.close()


def test_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    Store(tmp_path / "q.duckdb").close()
    con = duckdb.connect(str(tmp_path / "q.duckdb"))
    con.execute("INSERT INTO schema_version VALUES (99, now())")
    con.close()
    with pytest.raises(ConfigError, match="schema version 99, newer than"):
        Store(tmp_path / "q.duckdb")


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"folder .* does not exist"):
        Store(tmp_path / "nowhere" / "q.duckdb")


def test_database_in_use_by_another_process(tmp_path: Path) -> None:
    db = tmp_path / "q.duckdb"
    Store(db).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r}); "
            "print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(DataError, match="in use by another Quarterdeck process"):
            Store(db)
    finally:
        holder.kill()
        holder.wait()


def _postgres_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def _figures(store: Store) -> tuple[object, ...]:
    quarter = Period.parse("2023-Q3")
    pipeline = pipeline_by_stage(store)
    rate = win_rate(store, Period.parse("2023"))
    return (
        bookings(store, quarter).bookings,
        pipeline.amount,
        tuple((s.stage, s.count, s.amount) for s in pipeline.stages),
        rate.by_count,
        store.scalar(store.table("deal_events").count()),
    )


@pytest.mark.skipif(not _postgres_up(), reason="no PostgreSQL server at 127.0.0.1:5432")
def test_same_numbers_on_duckdb_and_postgres(tmp_path: Path) -> None:
    pg = Store(POSTGRES)
    for name in [*TABLES, "schema_version"]:
        pg.backend.drop_table(name, force=True)
    pg.close()
    pg = Store(POSTGRES)
    local = Store(tmp_path / "q.duckdb")
    for store in (pg, local):
        run_import(store, ImportRequest((TEST_DATA / "salesforce",)))
    expected = _figures(local)
    # Worked out from opportunity.csv: Q3 2023 won = 1,825,000 over 11 deals; open = 2,115,000.
    assert expected[0] == Decimal("1825000.00") and expected[1] == Decimal("2115000.00")
    assert _figures(pg) == expected
    pg.close()
    local.close()
