"""The statements of a save, run on the SQLite driver's connection inside its write transaction.

A save runs a few small statements (its version, its row, its labels and lineage edges), and
SQLAlchemy's work per execution costs several times what SQLite takes to run each. As for the
lookup in `driver_reads`, the statement is still SQLAlchemy's, compiled once per dialect and set
of parameter names, each parameter converted by its type: the rows written are those SQLAlchemy
writes. The transaction is `database.write`'s (BEGIN IMMEDIATE, retry while busy, COMMIT or
ROLLBACK), on the same driver connection. File SQLite catalogs run statements this way; other
databases and in-memory SQLite keep the ordinary path, as does a statement for which SQLAlchemy
would fill a Python-side column default.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Delete, Dialect, Insert, Update
from sqlalchemy.sql.selectable import ExecutableReturnsRows

from .driver_reads import Prepared, on_sqlite_file, run


def execute(
    conn: Connection, statement: ExecutableReturnsRows, params: Mapping[str, Any]
) -> Any | None:
    """Run `statement` with `params` in `conn`'s transaction: the first row it returns, or None."""
    prepared = _prepared(conn, statement, tuple(params))
    if prepared is None:
        result = conn.execute(statement, params)
        return result.first() if result.returns_rows else None
    driver = conn.connection.driver_connection
    values = run(driver, conn.dialect, prepared.sql, prepared.args(params))
    return None if values is None else prepared.row(values)


def execute_many(
    conn: Connection, statement: ExecutableReturnsRows, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Run `statement` once per row of `rows` (at least one) in `conn`'s transaction; if a row's
    keys differ from the first's, SQLAlchemy runs them all, as it always did."""
    keys = tuple(rows[0])
    prepared = _prepared(conn, statement, keys)
    if prepared is None or any(tuple(row) != keys for row in rows):
        conn.execute(statement, list(rows))
        return
    args = [prepared.args(row) for row in rows]
    run(conn.connection.driver_connection, conn.dialect, prepared.sql, args, many=True)


def _prepared(
    conn: Connection, statement: ExecutableReturnsRows, keys: tuple[str, ...]
) -> Prepared | None:
    """`statement` compiled for `conn`'s driver, None where SQLAlchemy runs it."""
    dialect = conn.dialect
    if not on_sqlite_file(conn.engine):
        return None
    here = _PREPARED.get(dialect)
    if here is None:
        here = _PREPARED[dialect] = {}
    entry = here.get((id(statement), keys))
    if entry is None or entry[0] is not statement:
        if len(here) >= _KEPT:  # statements built per call: compiled each time, none kept
            here.clear()
        prepared = (
            None if _fills_defaults(statement, keys) else Prepared(statement, conn.engine, keys)
        )
        entry = here[(id(statement), keys)] = (statement, prepared)
    return entry[1]


def _fills_defaults(statement: ExecutableReturnsRows, keys: tuple[str, ...]) -> bool:
    """Whether SQLAlchemy would fill a Python-side default of a column `keys` leave out: it does
    so at each execution, which a statement compiled once cannot. An insert fills `default`s,
    an update `onupdate`s, a delete neither."""
    if isinstance(statement, Delete):
        return False
    table = getattr(statement, "table", None)
    inserts, updates = not isinstance(statement, Update), not isinstance(statement, Insert)
    return any(
        column.key not in keys
        and ((inserts and column.default is not None) or (updates and column.onupdate is not None))
        for column in getattr(table, "columns", ())
    )


_KEPT = 64
"""Statements kept compiled per dialect: the few module-level ones a save runs, many times."""

_PREPARED: weakref.WeakKeyDictionary[
    Dialect, dict[tuple[int, tuple[str, ...]], tuple[ExecutableReturnsRows, Prepared | None]]
] = weakref.WeakKeyDictionary()
"""Statements compiled per dialect (one per engine), so they go with their engine."""
