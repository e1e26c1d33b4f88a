"""Engines, schema creation and migration, and write transactions that survive contention.

SQLite gets WAL mode (readers never block the writer) and `BEGIN IMMEDIATE` for writes, so two
processes never deadlock upgrading a read lock; a write that still finds the database busy is
retried with bounded backoff instead of surfacing "database is locked".
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from ..errors import CatalogError, ConfigError, shown_path
from ..manifest import ManifestJSON
from ..redact import redact_url
from . import schema
from .driver_reads import forgotten_at_fork, on_sqlite_file, run
from .driver_writes import execute_many
from .migrations import MIGRATIONS

T = TypeVar("T")
WRITE_ATTEMPTS = 12
SQLITE_BUSY_TIMEOUT_S = 30
SQLITE_CACHE_KIB = 64 << 10
SQLITE_MMAP_BYTES = 1 << 30
IN_CHUNK = 900
"""Below SQLite's oldest limit of 999 variables a statement, far below PostgreSQL's."""

_INSTALL_HINTS = {"psycopg": 'pip install "flow-artifacts[postgres]"'}


def open_engine(url: str) -> Engine:
    """An engine for a catalog URL, with the settings that make it safe for several processes."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"catalog URL {redact_url(url)!r} is not a database URL: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    try:
        return create_engine(url, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as exc:
        hint = next((h for mod, h in _INSTALL_HINTS.items() if mod in str(exc)), None)
        raise ConfigError(
            f"catalog {redact_url(url)} needs a database driver that is not installed: {exc}"
            + (f"; run: {hint}" if hint else "")
        ) from exc


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, json_serializer=_json_text
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Large catalogs: keep hot index pages in memory (the default cache is 2 MB) and read
        # the file through the page cache instead of copying every page.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("fa_write", False):
            driver: Any = conn.connection.driver_connection
            if not driver.in_transaction:  # else it joins the one `_on_driver` began
                run(driver, conn.dialect, "BEGIN IMMEDIATE", ())
        elif not options.get("fa_read", False):
            run(conn.connection.driver_connection, conn.dialect, "BEGIN", ())

    @event.listens_for(engine, "savepoint")
    def _savepoint(conn: Connection, _name: str | None) -> None:
        # Outside a transaction SQLite's SAVEPOINT would open one, committed on its own.
        if conn.get_execution_options().get("fa_write", False):
            _still_in_transaction(conn)

    return engine


def _json_text(value: Any) -> str:
    """A JSON column's text: a manifest's as its file was written (encoded once for both)."""
    return value.text if type(value) is ManifestJSON else json.dumps(value)


def _still_in_transaction(conn: Connection) -> None:
    """On SQLite: fail if the database rolled the write transaction back by itself (a full
    disk, an I/O error), which the work may have caught: what it did since is not recorded."""
    if conn.dialect.name != "sqlite":
        return
    driver = conn.connection.driver_connection
    if driver is not None and not driver.in_transaction:
        raise CatalogError(
            "the database rolled this write back by itself (is the disk full?): nothing of it "
            "was recorded; free some space and run it again"
        )


def read(engine: Engine) -> Connection:
    """A connection for reads only. On SQLite each statement runs by itself, without a BEGIN
    around them (one statement less per lookup): every statement sees one committed state, as
    on PostgreSQL, whose reads run at READ COMMITTED."""
    return engine.connect().execution_options(fa_read=True)


def write(
    engine: Engine,
    work: Callable[[Connection], T],
    what: str = "catalog write",
    kept: KeptWriteConnection | None = None,
) -> T:
    """Run `work` in one write transaction, retrying (bounded) while the database is busy; on
    the connection `kept` holds, if given."""
    delay = 0.01
    for attempt in range(WRITE_ATTEMPTS):
        conn: Connection | None = None
        try:  # connecting may find the database busy too (its settings are written)
            if kept is not None:
                conn = kept.take()
                result = _on_driver(conn, work)
            else:
                conn = _write_connection(engine)
                with conn.begin():
                    result = work(conn)
                    _still_in_transaction(conn)
        except BaseException as exc:
            if conn is not None:
                conn.close()  # never kept after a failure: whatever state it is in goes with it
            if not isinstance(exc, OperationalError):
                raise
            if not _is_busy(exc) or attempt == WRITE_ATTEMPTS - 1:
                raise CatalogError(f"{what} failed: {_short(exc)}") from exc
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 1.0)
            continue
        if kept is not None:
            kept.give_back(conn)
        else:
            conn.close()
        return result
    raise AssertionError("unreachable")


def _on_driver(conn: Connection, work: Callable[[Connection], T]) -> T:
    """`work` in a transaction begun and committed on the driver connection of `conn` (a file
    SQLite catalog's kept one): SQLAlchemy's own BEGIN and COMMIT cost several times a small
    save's statements. A statement `work` runs through SQLAlchemy joins it (`_begin`); SQLAlchemy
    then commits or rolls back, as always."""
    driver: Any = conn.connection.driver_connection
    run(driver, conn.dialect, "BEGIN IMMEDIATE", ())
    try:
        result = work(conn)
        _still_in_transaction(conn)
    except BaseException:
        with contextlib.suppress(Exception):  # the caller closes `conn`, which rolls back too
            if conn.in_transaction():
                conn.rollback()
            elif driver.in_transaction:
                driver.rollback()
        raise
    if conn.in_transaction():
        conn.commit()
    else:
        run(driver, conn.dialect, "COMMIT", ())
    return result


def _write_connection(engine: Engine) -> Connection:
    return engine.connect().execution_options(fa_write=True)


class KeptWriteConnection:
    """A file SQLite catalog's write connection, kept between its write transactions: taking
    one from the pool (and wrapping it, with its options) costs more than the statements of a
    small save. Kept only after a transaction that ended well; never used by a forked child."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._idle: list[Connection] = []
        """At most one, usually; list appends and pops are atomic."""
        self._inherited: list[Connection] = []
        self._closed = False
        forgotten_at_fork(self)

    @classmethod
    def for_engine(cls, engine: Engine) -> KeptWriteConnection | None:
        """One for a file SQLite catalog; None for other databases and in-memory SQLite."""
        return cls(engine) if on_sqlite_file(engine) else None

    def take(self) -> Connection:
        try:
            return self._idle.pop()
        except IndexError:
            return _write_connection(self._engine)

    def give_back(self, conn: Connection) -> None:
        if self._closed or self._idle:
            conn.close()
        else:
            self._idle.append(conn)

    def close(self) -> None:
        """Give the kept connection back to the pool (before the engine is disposed)."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def forget(self) -> None:
        """In a forked child: never use, nor close, the connection of the parent."""
        self._inherited += self._idle  # a grandchild keeps its grandparent's too
        self._idle = []


def _is_busy(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return any(
        word in message
        for word in ("database is locked", "database is busy", "deadlock", "could not serialize")
    )


def _short(exc: SQLAlchemyError) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]


def chunked(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices small enough for one `IN (...)` list on every database."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_ignore(conn: Connection, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert rows, skipping those whose primary or unique key exists (race-free get-or-create)."""
    rows = list(rows)
    if rows:
        execute_many(conn, _insert_ignore_statement(conn.dialect.name, table), rows)


@functools.cache
def _insert_ignore_statement(dialect: str, table: Table) -> Any:
    """Built once per table: constructing it costs more than running it."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


def ensure_schema(engine: Engine, where: str) -> None:
    """Create the tables on first use, migrate an older schema, refuse a newer one."""

    def work(conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7263100213)"))
        if not engine.dialect.has_table(conn, schema.schema_info.name):
            schema.metadata.create_all(conn)
            conn.execute(schema.schema_info.insert().values(id=1, version=schema.SCHEMA_VERSION))
            return
        found = conn.execute(select(schema.schema_info.c.version)).scalar_one()
        if found > schema.SCHEMA_VERSION:
            raise CatalogError(
                f"catalog {where} has schema version {found}, written by a newer flow-artifacts "
                f"(this one knows up to {schema.SCHEMA_VERSION}); upgrade flow-artifacts"
            )
        for version in range(found + 1, schema.SCHEMA_VERSION + 1):
            MIGRATIONS[version](conn)
            conn.execute(schema.schema_info.update().values(version=version))

    try:
        write(engine, work, what=f"opening catalog {where}")
    except SQLAlchemyError as exc:  # not a database, or not one with our tables
        raise CatalogError(
            f"cannot open catalog {where}: {_short(exc)}; point the stack at a flow-artifacts "
            "catalog, or move this one away to start a new one"
        ) from exc


def shown_catalog(url: str) -> str:
    """The catalog as messages name it: a SQLite file by `shown_path` (no absolute path),
    a server by its URL without credentials."""
    database = make_url(url).database if url.startswith("sqlite") else None
    if database and database != ":memory:":
        return shown_path(database)
    return redact_url(url)
