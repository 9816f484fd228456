"""Guards for the pins in pyproject.toml: each fails on the day its reason goes away or bites."""

from __future__ import annotations

from pathlib import Path

import ibis
import pyarrow as pa


def test_in_memory_table_into_duckdb(tmp_path: Path) -> None:
    # Ibis 12.0.0 with sqlglot >= 30.11 fails here ("syntax error at or near EXISTS"):
    # the reason sqlglot is pinned below 30.11.
    con = ibis.duckdb.connect(str(tmp_path / "x.duckdb"))
    table = con.create_table("t", obj=pa.table({"a": [1, 2]}), temp=True)
    assert con.execute(table.a.sum()) == 3


def test_duckdb_lists_tables() -> None:
    # Ibis 12.0.0 lists tables with fetch_arrow_table(), which DuckDB 2.0 removed: the
    # reason duckdb is pinned below 2.
    con = ibis.duckdb.connect()
    con.create_table("t", schema=ibis.schema({"a": "int64"}))
    assert con.list_tables() == ["t"]
