"""The store: the only code that opens engine connections.

A ``Store`` holds one Ibis backend (a DuckDB file by default, PostgreSQL or another Ibis
backend by URL), keeps the canonical schema at the current version, and offers the few
writing primitives the importer needs, all inside one transaction. Everything above it
works with Ibis expressions, so the same metric code runs on every engine.

A store can be *scoped* (``store.scoped(scope)``): a view over the same connection whose
``table(name)`` returns only the rows the scope lets through. Every read of the layers
above goes through ``table``, so a scope given here narrows every metric, report and
record at once (``quarterdeck.access.scope`` holds the rule of who sees what).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import os
import re
import warnings
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot
from ibis.backends.sql.datatypes import DuckDBType

from quarterdeck.errors import ConfigError, DataError, MissingExtra
from quarterdeck.model import SCHEMA_VERSION, TABLES

__all__ = ["DEFAULT_DB", "Scope", "Store"]

DEFAULT_DB = "quarterdeck.duckdb"

FILES_ENV = "QUARTERDECK_FILES"
"""Where a store on a database server keeps its files (see ``Store.folder``)."""

DUCKDB_MEMORY = "1GB"
"""Memory DuckDB may use before it spills to disk (environment QUARTERDECK_DUCKDB_MEMORY)."""

Migration = Callable[["Store"], None]


def _create_all(store: Store) -> None:
    for table in TABLES.values():
        store.backend.create_table(table.name, schema=table.schema)


def _add_missing(store: Store) -> None:
    """Create tables and columns the database lacks (version 2: the meeting record and
    settings; version 3: saved forecasts; version 4: logins, sessions, failed log-ins and
    the audit log). Idempotent, so it is safe after ``_create_all`` built the latest shape."""
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


MIGRATIONS: dict[int, Migration] = {
    1: _create_all,
    2: _add_missing,
    3: _add_missing,
    4: _add_missing,
}
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


class Scope(Protocol):
    """Which rows of each table a scoped store lets through (see ``Store.scoped``)."""

    @property
    def key(self) -> Hashable:
        """Names the scope in cache keys, so results of two scopes never mix."""

    def narrow(self, name: str, table: ir.Table, store: Store) -> ir.Table:
        """The rows of canonical table ``name`` (``table``, unnarrowed) the scope lets
        through; ``store`` is the unscoped store, to read what it narrows by."""


@dataclass
class _Shared:
    """What a store and its scoped views share: one connection's transaction and cache."""

    in_transaction: bool = False
    cache: dict[tuple[Any, ...], ir.Table] = field(default_factory=dict)
    temp_names: Iterator[int] = field(default_factory=itertools.count)


class Store:
    """A connection to one Quarterdeck database, at the current schema version."""

    scope: Scope | None = None
    """None for the whole database; else the scope every ``table`` read is narrowed to."""

    def __init__(self, db: str | os.PathLike[str] | None = None, *, read_only: bool = False):
        self.target = Target.parse(db)
        self.read_only = read_only
        self.backend = self._connect()
        self._shared = _Shared()
        self._root = self
        self._migrate()

    def scoped(self, scope: Scope) -> Store:
        """A view of this store over the same connection whose reads ``scope`` narrows.

        Writes through the view write the database as the store does (callers check
        what a viewer may write before they write); closing the view leaves the
        connection open.
        """
        view = copy.copy(self._root)
        view.scope = scope
        return view

    @property
    def unscoped(self) -> Store:
        """The store this view was made from (itself when it is not a view)."""
        return self._root

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
                # DuckDB: 'Could not set lock on file ...: Conflicting lock is held in ...'
                if "could not set lock" in message.lower():
                    raise DataError(
                        f"database {target.location} is in use by another Quarterdeck process; "
                        "stop it (or wait for it to finish) and try again"
                    ) from exc
                first = message.splitlines()[0] if message else type(exc).__name__
                raise ConfigError(f"cannot open database {target.location}: {first}") from exc
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
        if self._root is not self:
            return  # a scoped view: the connection belongs to the store it came from
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
        """Where files that belong beside the database (rejected rows, uploads) are written:
        the DuckDB file's folder; for a database server, the folder the environment
        variable QUARTERDECK_FILES names, or else the current one."""
        if self.target.is_file:
            return Path(self.target.location).resolve().parent
        return Path(os.environ.get(FILES_ENV) or Path.cwd())

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
        """The canonical table ``name`` as an Ibis expression (narrowed to the store's
        scope when it has one: the one place reads are narrowed)."""
        if name not in TABLES:
            raise KeyError(name)
        table = self.backend.table(name)
        if self.scope is None:
            return table
        return self.scope.narrow(name, table, self._root)

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
    def transaction(self, *, keep_cache: bool = False) -> Iterator[None]:
        """All writes inside land together or not at all (even if the process is killed).

        ``keep_cache``: the writes touch no table a remembered result was built from
        (logins, sessions), so what :meth:`remember` kept stays valid."""
        shared = self._shared
        if shared.in_transaction:
            yield
            return
        if not keep_cache:
            self.forget()
        self.backend.raw_sql("BEGIN TRANSACTION")
        shared.in_transaction = True
        try:
            yield
        except BaseException:
            self.backend.raw_sql("ROLLBACK")
            raise
        else:
            self.backend.raw_sql("COMMIT")
        finally:
            shared.in_transaction = False

    def lock(self, *tables: str) -> None:
        """Inside a transaction, keep other writers off ``tables`` until it ends (readers
        go on), so a read-then-write such as "is this key free?" cannot race another
        writer. On a server (PostgreSQL) only: a DuckDB file has one writer anyway."""
        if not self._shared.in_transaction:
            raise RuntimeError("Store.lock is for use inside Store.transaction")
        unknown = [t for t in tables if t not in TABLES]
        if unknown:
            raise KeyError(unknown)
        if self.target.engine == "postgres":
            names = ", ".join(f'"{t}"' for t in tables)
            self.backend.raw_sql(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE").close()

    def remember(self, key: tuple[Any, ...], build: Callable[[], ir.Table]) -> ir.Table:
        """The result of ``build()`` kept in a temporary table under ``key`` until the next
        write, so that several metrics of one report share one costly computation (such as
        every deal's state at a past moment). The key is the store's scope's with ``key``:
        a scoped view never reads what another scope (or the whole database) kept."""
        cache = self._shared.cache
        full = (None if self.scope is None else self.scope.key, *key)
        if full not in cache:
            name = f"_qd_cache_{os.getpid()}_{next(self._shared.temp_names)}"
            cache[full] = self.backend.create_table(name, obj=build(), temp=True)
        return cache[full]

    def forget(self) -> None:
        """Drop what :meth:`remember` kept (called before every write)."""
        cache = self._shared.cache
        for table in cache.values():
            with contextlib.suppress(Exception):
                self.backend.drop_table(table.get_name(), force=True)
        cache.clear()

    def stage(self, data: pa.Table) -> ir.Table:
        """Put in-memory rows into a temporary table for the engine to join against."""
        name = f"_qd_stage_{os.getpid()}_{next(self._shared.temp_names)}"
        return self.backend.create_table(name, obj=data, temp=True, overwrite=True)

    def insert(
        self,
        table: str,
        rows: ir.Table | pa.Table,
        constants: Mapping[str, str | int] | None = None,
        *,
        keep_cache: bool = False,
    ) -> None:
        """Append rows (an expression over this store, or Arrow data) to a canonical table.

        ``constants`` fills columns that hold one value for every row, without building them.
        ``keep_cache`` as for :meth:`transaction`.
        """
        if not keep_cache:
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
        name = f"_qd_keys_{os.getpid()}_{next(self._shared.temp_names)}"
        self.backend.create_table(name, obj=staged, temp=True, overwrite=True)
        condition = " AND ".join(f'"{table}"."{k}" = "{name}"."{k}"' for k in key)
        self.backend.raw_sql(f'DELETE FROM "{table}" USING "{name}" WHERE {condition}')
        self.backend.drop_table(name, force=True)

    def update(
        self,
        table: str,
        where: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        keep_cache: bool = False,
    ) -> None:
        """Set ``values`` (column -> Python value) on the rows of ``table`` whose columns
        equal ``where``: one UPDATE statement, so two writers at once never duplicate a
        row as a delete and an insert could. ``keep_cache`` as for :meth:`transaction`."""
        if not values:
            raise ValueError(f"update of {table}: nothing to set")
        exp = sqlglot.exp
        statement = exp.Update(
            this=exp.to_table(table, quoted=True),
            expressions=[
                exp.EQ(this=self._column(table, c), expression=exp.convert(v))
                for c, v in values.items()
            ],
            where=exp.Where(this=self._condition(table, where, {})),
        )
        self._execute(statement, keep_cache)

    def delete(
        self,
        table: str,
        where: Mapping[str, Any],
        *,
        before: Mapping[str, Any] | None = None,
        keep_cache: bool = False,
    ) -> None:
        """Delete the rows of ``table`` whose columns equal ``where`` and lie below
        ``before`` (column -> value), in one statement."""
        exp = sqlglot.exp
        condition = self._condition(table, where, before or {})
        statement = exp.Delete(
            this=exp.to_table(table, quoted=True), where=exp.Where(this=condition)
        )
        self._execute(statement, keep_cache)

    def _column(self, table: str, name: str) -> sqlglot.exp.Column:
        if name not in TABLES[table].column_names:
            raise ValueError(f"{table} has no column {name!r}")
        return sqlglot.exp.column(name, quoted=True)

    def _condition(
        self, table: str, equal: Mapping[str, Any], below: Mapping[str, Any]
    ) -> sqlglot.exp.Condition:
        exp = sqlglot.exp
        parts: list[exp.Condition] = [
            self._column(table, c).eq(exp.convert(v)) for c, v in equal.items()
        ]
        parts += [
            exp.LT(this=self._column(table, c), expression=exp.convert(v)) for c, v in below.items()
        ]
        if not parts:
            raise ValueError(f"a statement on {table} needs a condition")
        return exp.and_(*parts)

    def _execute(self, statement: sqlglot.exp.Expression, keep_cache: bool) -> None:
        if not keep_cache:
            self.forget()
        result = self.backend.raw_sql(statement.sql(dialect=self.backend.name))
        if self.target.engine == "postgres":
            result.close()

    def next_value(self, table: str, column: str) -> int:
        """The largest ``column`` of ``table`` in the whole database (a scoped view too
        reads past its scope here: new ids and sequence numbers must never collide)."""
        value = self.backend.execute(self.backend.table(table)[column].max())
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
