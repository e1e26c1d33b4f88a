"""Statements run on the SQLite driver's connection itself: here the lookup every load makes
(and what `driver_writes` shares: the compiled statement, the driver call).

SQLAlchemy's work per execution (connection wrapper, pool checkout and reset, compiled-cache
lookup, result object) costs several times what SQLite takes to answer such a read or to insert
one row. Here the statement is still SQLAlchemy's, compiled once per dialect, each parameter is
converted by its type and each value comes back converted by its column's own type, as
SQLAlchemy would do; a driver error is raised as SQLAlchemy raises it. Only file SQLite catalogs
run statements this way (their pool hands connections between threads); other databases and
in-memory SQLite keep the ordinary path.
"""

from __future__ import annotations

import os
import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import JSON, Dialect, Engine, Select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.selectable import ExecutableReturnsRows

IDLE_MAX = 2
"""Driver connections kept out of the pool between reads: one per thread reading at once
would be ideal, but each kept one is a connection the pool cannot lend to a write."""


class Prepared:
    """A statement compiled once for a dialect: its SQL, its parameters in order, the type of
    the rows it returns (a SELECT's, or an INSERT's RETURNING; none for a plain INSERT)."""

    def __init__(
        self,
        statement: ExecutableReturnsRows,
        engine: Engine,
        column_keys: Sequence[str] | None = None,
    ) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = str(compiled)
        binds = compiled.binds
        self._order = [
            (name, binds[name].value, binds[name].required, _bind_processor(binds[name], engine))
            for name in compiled.positiontup or ()
        ]
        columns = list(statement.exported_columns)
        self._processors = [
            (i, _empty_object_first(proc) if isinstance(column.type, JSON) else proc)
            for i, column in enumerate(columns)
            if (proc := column.type.dialect_impl(dialect).result_processor(dialect, None))
        ]
        row_type: Any = namedtuple("_Row", [c.key for c in columns])  # type: ignore[misc]
        self._make: Callable[[list[Any]], Any] = row_type._make
        self._dbapi_error: type[Exception] = dialect.loaded_dbapi.Error

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The driver's parameters; a value its type refuses raised as SQLAlchemy raises it (a
        `StatementError`, which callers catch as any database error)."""
        values = []
        try:
            for name, default, required, process in self._order:
                value = params[name] if required else params.get(name, default)
                values.append(value if process is None else process(value))
        except Exception as exc:
            raise DBAPIError.instance(self.sql, params, exc, self._dbapi_error) from exc
        return values

    def row(self, values: tuple[Any, ...]) -> Any:
        """The row with attribute access, each value converted by its column's type."""
        converted = list(values)
        for i, process in self._processors:
            converted[i] = process(converted[i])
        return self._make(converted)


def _empty_object_first(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`process`, but an empty JSON object (most labels and user metadata) becomes `{}` without
    the decoder's fixed cost, which exceeds what a load spends on most of its other steps."""

    def convert(value: Any) -> Any:
        return {} if value == "{}" else process(value)

    return convert


def _bind_processor(bind: Any, engine: Engine) -> Callable[[Any], Any] | None:
    processor: Callable[[Any], Any] | None = bind.type.dialect_impl(engine.dialect).bind_processor(
        engine.dialect
    )
    if processor is not None and isinstance(bind.type, JSON):
        return _empty_object_written(processor)
    return processor


def _empty_object_written(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`process`, but an empty dict (most labels and user metadata) is written `{}`, as the
    encoder writes it, without the encoder's fixed cost."""

    def convert(value: Any) -> Any:
        return "{}" if type(value) is dict and not value else process(value)

    return convert


class DriverReads:
    """First rows of prepared statements, on pooled driver connections kept between reads."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._prepared: dict[int, tuple[Select[Any], Prepared]] = {}
        self._idle: list[tuple[Any, Any]] = []
        """(pool's connection, its driver connection) pairs; list appends and pops are atomic."""
        self._inherited: list[tuple[Any, Any]] = []
        forgotten_at_fork(self)

    @classmethod
    def for_engine(cls, engine: Engine) -> DriverReads | None:
        """Reads for a file SQLite catalog; None for other databases and in-memory SQLite."""
        return cls(engine) if on_sqlite_file(engine) else None

    def first(self, statement: Select[Any], params: Mapping[str, Any]) -> Any | None:
        """The first row `statement` selects with `params`, or None."""
        entry = self._prepared.get(id(statement))
        if entry is None or entry[0] is not statement:
            entry = self._prepared[id(statement)] = (statement, Prepared(statement, self._engine))
        prepared = entry[1]
        args = prepared.args(params)
        try:
            pair = self._idle.pop()
        except IndexError:
            pooled = self._engine.raw_connection()
            pair = (pooled, pooled.driver_connection)
        try:
            values = run(pair[1], self._engine.dialect, prepared.sql, args)
        except Exception:
            pair[0].close()  # back to the pool, which resets (or discards) it
            raise
        if len(self._idle) < IDLE_MAX:
            self._idle.append(pair)
        else:
            pair[0].close()
        return None if values is None else prepared.row(values)

    def close(self) -> None:
        """Give the kept connections back to the pool (before the engine is disposed)."""
        idle, self._idle = self._idle, []
        for pooled, _ in idle:
            pooled.close()

    def forget(self) -> None:
        """In a forked child: never use, nor close, the connections of the parent."""
        self._inherited += self._idle  # a grandchild keeps its grandparent's too
        self._idle = []


def run(
    driver: Any, dialect: Dialect, sql: str, args: Sequence[Any], *, many: bool = False
) -> tuple[Any, ...] | None:
    """The first row of `sql` run on a driver connection (None if `many`: `args` is then a
    sequence of parameter lists, one execution each); a driver error raised as SQLAlchemy
    raises it (so a busy database is an `OperationalError`, which write transactions retry)."""
    values: tuple[Any, ...] | None = None
    try:
        if many:
            driver.executemany(sql, args)
        else:
            cursor = driver.execute(sql, args)
            values = cursor.fetchone()
            cursor.close()
    except Exception as exc:
        dbapi = dialect.loaded_dbapi
        if isinstance(exc, dbapi.Error):
            raise DBAPIError.instance(sql, args, exc, dbapi.Error) from exc
        raise
    return values


def on_sqlite_file(engine: Engine) -> bool:
    """Whether `engine` is a file SQLite catalog's (pooled connections, each its own file
    handle), where the driver's connection is used directly; in-memory SQLite keeps one
    static connection and PostgreSQL goes through SQLAlchemy."""
    return engine.dialect.name == "sqlite" and isinstance(engine.pool, QueuePool)


class Forgets(Protocol):
    def forget(self) -> None: ...


_LIVE: weakref.WeakSet[Forgets] = weakref.WeakSet()


def forgotten_at_fork(holder: Forgets) -> None:
    """Have `holder` forget the connections it keeps in a forked child: they are the parent's."""
    _LIVE.add(holder)


def _after_fork() -> None:
    for holder in list(_LIVE):
        holder.forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
