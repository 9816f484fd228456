"""The store: the only code that opens engine connections.

A ``Store`` holds one Ibis backend (a DuckDB file by default, PostgreSQL or another Ibis
backend by URL), keeps the canonical schema at the current version, and offers the few
writing primitives the importer needs, all inside one transaction. Everything above it
works with Ibis expressions, so the same metric code runs on every engine.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.sql.datatypes import DuckDBType

from quarterdeck.errors import ConfigError, DataError, MissingExtra
from quarterdeck.model import SCHEMA_VERSION, TABLES

__all__ = ["DEFAULT_DB", "Store"]

DEFAULT_DB = "quarterdeck.duckdb"

DUCKDB_MEMORY = "1GB"
"""Memory DuckDB may use before it spills to disk (environment QUARTERDECK_DUCKDB_MEMORY)."""

Migration = Callable[["Store"], None]


def _create_all(store: Store) -> None:
    for table in TABLES.values():
        store.backend.create_table(table.name, schema=table.schema)


def _add_missing(store: Store) -> None:
    """Create tables and columns the database lacks (version 2: the meeting record and
    settings; version 3: saved forecasts). Idempotent, so it is safe after ``_create_all`` built the latest shape."""
    existing = set(store.backend.list_tables())
    for table in TABLES.values():
        if table.name not in existing:
            store.backend.create_table(table.name, schema=table.schema)
            continue
        have = set(store.backend.get_schema(table.name).names)
        for column in table.columns:
            if column.name not in have:
                sql_type = store.backend.compiler.type_mapper.to_string(column.type)
                store.backend.raw_sql(
                    f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {sql_type}'
                )


MIGRATIONS: dict[int, Migration] = {1: _create_all, 2: _add_missing, 3: _add_missing}
"""Schema version -> the step that brings the previous version to it. Append, never edit."""


@dataclass(frozen=True)
class Target:
    """Where a store lives: the engine name and what to pass to it."""

    engine: str
    location: str

    @classmethod
    def parse(cls, db: str | os.PathLike[str] | None) -> Target:
        text = os.fspath(db) if db is not None else DEFAULT_DB
        if re.match(r"^(postgres|postgresql)://", text):
            return cls("postgres", text)
        if text.startswith("duckdb://"):
            return cls("duckdb", text.removeprefix("duckdb://") or ":memory:")
        if re.match(r"^[a-z][a-z0-9+]*://", text):
            scheme = text.split("://", 1)[0]
            return cls(scheme, text)
        return cls("duckdb", text)

    @property
    def is_file(self) -> bool:
        return self.engine == "duckdb" and self.location != ":memory:"


class Store:
    """A connection to one Quarterdeck database, at the current schema version."""

    def __init__(self, db: str | os.PathLike[str] | None = None, *, read_only: bool = False):
        self.target = Target.parse(db)
        self.read_only = read_only
        self.backend = self._connect()
        self._temp_names = itertools.count()
        self._in_transaction = False
        self._cache: dict[tuple[Any, ...], ir.Table] = {}
        self._migrate()

    # -- connection ---------------------------------------------------------------------

    def _connect(self) -> Any:
        target = self.target
        if target.engine == "duckdb":
            if target.is_file:
                path = Path(target.location)
                if not path.parent.exists():
                    raise ConfigError(
                        f"cannot create database {path}: folder {path.parent} does not exist"
                    )
            try:
                backend = ibis.duckdb.connect(target.location, read_only=self.read_only)
                backend.raw_sql("SET enable_progress_bar = false")
                limit = os.environ.get("QUARTERDECK_DUCKDB_MEMORY", DUCKDB_MEMORY)
                if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", limit.strip(), re.IGNORECASE):
                    raise ConfigError(
                        f"QUARTERDECK_DUCKDB_MEMORY={limit!r}: expected a size such as 2GB or 512MB"
                    )
                backend.raw_sql(f"SET memory_limit = '{limit.strip()}'")
                return backend
            except Exception as exc:  # duckdb raises its own IOException types
                message = str(exc)
                if "lock" in message.lower():
                    raise DataError(
                        f"database {target.location} is in use by another Quarterdeck process; "
                        "stop it (or wait for it to finish) and try again"
                    ) from exc
                raise ConfigError(f"cannot open database {target.location}: {message}") from exc
        if target.engine == "postgres":
            try:
                import psycopg  # noqa: F401
            except ImportError as exc:
                raise MissingExtra("A PostgreSQL database", "postgres") from exc
            try:
                return ibis.connect(target.location)
            except Exception as exc:
                raise ConfigError(f"cannot connect to {target.location}: {exc}") from exc
        try:
            return ibis.connect(target.location)
        except Exception as exc:
            raise ConfigError(
                f"cannot open {target.location!r}: expected a DuckDB file path, "
                f"duckdb://PATH or postgresql://... ({exc})"
            ) from exc

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.backend.disconnect()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def location(self) -> str:
        return self.target.location

    @property
    def folder(self) -> Path:
        """Where files that belong beside the database (such as rejects) are written."""
        if self.target.is_file:
            return Path(self.target.location).resolve().parent
        return Path.cwd()

    # -- schema -------------------------------------------------------------------------

    def schema_version(self) -> int:
        if "schema_version" not in self.backend.list_tables():
            return 0
        value = self.backend.table("schema_version").version.max().execute()
        return int(value) if value is not None else 0

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise ConfigError(
                f"database {self.location} has schema version {current}, newer than this "
                f"Quarterdeck understands ({SCHEMA_VERSION}); upgrade Quarterdeck"
            )
        if current == SCHEMA_VERSION:
            return
        if self.read_only:
            raise ConfigError(
                f"database {self.location} needs an upgrade; open it for writing once"
            )
        with self.transaction():
            if current == 0:
                self.backend.create_table(
                    "schema_version",
                    schema=ibis.schema({"version": "int64", "applied_at": "timestamp"}),
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version](self)
                self.backend.raw_sql(
                    "INSERT INTO schema_version VALUES "
                    f"({version}, TIMESTAMP '{_now().isoformat(sep=' ')}')"
                )

    # -- reading ------------------------------------------------------------------------

    def table(self, name: str) -> ir.Table:
        """The canonical table ``name`` as an Ibis expression."""
        if name not in TABLES:
            raise KeyError(name)
        return self.backend.table(name)

    def to_arrow(self, expr: ir.Expr) -> pa.Table:
        result = self.backend.to_pyarrow(expr)
        return result if isinstance(result, pa.Table) else pa.table({"value": [result]})

    def batches(self, expr: ir.Table, size: int = 1_000_000) -> Iterator[pa.RecordBatch]:
        """The rows of ``expr`` in Arrow batches of up to ``size`` rows, streamed: the
        engine never holds the whole result (for reads of millions of rows)."""

        def quietly(read: Callable[[], Any]) -> Any:
            with warnings.catch_warnings():
                # Ibis 12 reads DuckDB through fetch_record_batch, deprecated in DuckDB 1.5.
                warnings.filterwarnings("ignore", "fetch_record_batch", DeprecationWarning)
                return read()

        reader = quietly(lambda: self.backend.to_pyarrow_batches(expr, chunk_size=size))
        try:
            while True:
                try:
                    yield quietly(reader.read_next_batch)
                except StopIteration:
                    return
        finally:
            reader.close()

    def scalar(self, expr: ir.Scalar) -> Any:
        return self.backend.execute(expr)

    def last_of(
        self, value: ir.Column, key: ir.IntegerColumn, where: ir.BooleanValue | None = None
    ) -> ir.Scalar:
        """Aggregate: ``value`` of the row with the largest ``key``, nulls included.

        DuckDB has a fast native aggregate for it (``arg_max_null``, several times faster
        than an ordered ``first``, which matters over millions of history events); other
        engines get Ibis's portable ``argmax``.
        """
        if self.backend.name == "duckdb":
            return _arg_max_null(value, key, where=where)  # type: ignore[no-any-return]
        return value.argmax(key, where=where)

    def sql(self, expr: ir.Expr) -> str:
        """The SQL this store's engine runs for ``expr`` (for ``--explain``)."""
        return str(ibis.to_sql(expr, dialect=self.backend.name))

    # -- writing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside land together or not at all (even if the process is killed)."""
        if self._in_transaction:
            yield
            return
        self.forget()
        self.backend.raw_sql("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self.backend.raw_sql("ROLLBACK")
            raise
        else:
            self.backend.raw_sql("COMMIT")
        finally:
            self._in_transaction = False

    def remember(self, key: tuple[Any, ...], build: Callable[[], ir.Table]) -> ir.Table:
        """The result of ``build()`` kept in a temporary table under ``key`` until the next
        write, so that several metrics of one report share one costly computation (such as
        every deal's state at a past moment)."""
        if key not in self._cache:
            name = f"_qd_cache_{os.getpid()}_{next(self._temp_names)}"
            self._cache[key] = self.backend.create_table(name, obj=build(), temp=True)
        return self._cache[key]

    def forget(self) -> None:
        """Drop what :meth:`remember` kept (called before every write)."""
        for table in self._cache.values():
            with contextlib.suppress(Exception):
                self.backend.drop_table(table.get_name(), force=True)
        self._cache.clear()

    def stage(self, data: pa.Table) -> ir.Table:
        """Put in-memory rows into a temporary table for the engine to join against."""
        name = f"_qd_stage_{os.getpid()}_{next(self._temp_names)}"
        return self.backend.create_table(name, obj=data, temp=True, overwrite=True)

    def insert(
        self,
        table: str,
        rows: ir.Table | pa.Table,
        constants: Mapping[str, str | int] | None = None,
    ) -> None:
        """Append rows (an expression over this store, or Arrow data) to a canonical table.

        ``constants`` fills columns that hold one value for every row, without building them.
        """
        self.forget()
        columns = TABLES[table].column_names
        constants = dict(constants or {})
        if isinstance(rows, pa.Table) and self.target.engine == "duckdb":
            self._insert_arrow(table, rows, constants)
            return
        if isinstance(rows, pa.Table):
            target = TABLES[table].schema.to_pyarrow()
            rows = self.stage(
                pa.table(
                    {
                        name: rows.column(name).cast(target.field(name).type)
                        if name in target.names
                        else rows.column(name)
                        for name in rows.column_names
                    }
                )
            )
        schema = TABLES[table].schema
        if constants:
            rows = rows.mutate(**{c: ibis.literal(v, schema[c]) for c, v in constants.items()})
        missing = [c for c in columns if c not in rows.columns]
        rows = rows.mutate(**{c: ibis.null().cast(schema[c]) for c in missing}).select(
            *[rows_col(rows, c, schema) if c not in missing else c for c in columns]
        )
        self.backend.insert(table, rows)

    def _insert_arrow(self, table: str, rows: pa.Table, constants: dict[str, str | int]) -> None:
        """DuckDB reads Arrow in place: one copy instead of a staging table and a second copy."""
        schema = TABLES[table].schema
        names = [c for c in schema.names if c in rows.column_names and c not in constants]

        def value(column: str) -> str:
            sql_type = DuckDBType.to_string(schema[column])
            if column in constants:
                return f"CAST({_sql_literal(constants[column])} AS {sql_type})"
            if column in names:
                return f'CAST("{column}" AS {sql_type})'
            return "NULL"

        select = ", ".join(f'{value(c)} AS "{c}"' for c in schema.names)
        # A relation over the Arrow data, not a registered view: inside a transaction DuckDB
        # keeps registered views alive until commit, which would hold every batch in memory.
        relation = self.backend.con.from_arrow(rows.select(names)).project(select)
        relation.insert_into(table)
        del relation

    def delete_matching(self, table: str, keys: ir.Table) -> None:
        """Delete rows of ``table`` whose key appears in ``keys`` (used to replace rows)."""
        key = TABLES[table].key
        staged = keys.select(*key).distinct()
        name = f"_qd_keys_{os.getpid()}_{next(self._temp_names)}"
        self.backend.create_table(name, obj=staged, temp=True, overwrite=True)
        condition = " AND ".join(f'"{table}"."{k}" = "{name}"."{k}"' for k in key)
        self.backend.raw_sql(f'DELETE FROM "{table}" USING "{name}" WHERE {condition}')
        self.backend.drop_table(name, force=True)

    def next_value(self, table: str, column: str) -> int:
        value = self.backend.execute(self.table(table)[column].max())
        return 0 if value is None else int(value)


@ibis.udf.agg.builtin(name="arg_max_null")
def _arg_max_null(arg: str, key: int) -> str:  # type: ignore[empty-body]
    """DuckDB's arg_max_null: ``arg`` at the row of the largest ``key``, even when null."""


def rows_col(rows: ir.Table, name: str, schema: ibis.Schema) -> ir.Value:
    """Column ``name`` of ``rows`` cast to the canonical type when the types differ."""
    column = rows[name]
    target = schema[name].copy(nullable=True)
    if column.type().copy(nullable=True) != target:
        column = column.cast(target)
    return column.name(name)


def _sql_literal(value: str | int) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
