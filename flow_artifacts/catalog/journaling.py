"""Catalog writes that journal their change in the store, and withdraw the record unless it commits.

The record is written inside the transaction, after its rows are changed (so locked), and before
COMMIT: a committed change always has its record. A record whose transaction failed before COMMIT
is withdrawn; one whose COMMIT failed is kept, since the change may have committed, and replaying
it only does what the caller asked for (see `journal.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine

from .changes import later
from .database import KeptWriteConnection, write
from .records import now

T = TypeVar("T")


class JournalSink(Protocol):
    """Where records go: `journal.Journal` (the catalog never imports the store side)."""

    def clock(self) -> datetime: ...

    def append(self, op: str, at: datetime, fields: Mapping[str, Any]) -> str: ...

    def withdraw(self, rel: str) -> None: ...


class Pending:
    """The records one transaction attempt wrote."""

    def __init__(self, journal: JournalSink | None) -> None:
        self.journal = journal
        self.paths: list[str] = []

    def stamp(self, after: datetime | None = None) -> datetime:
        """The stamp of a change replacing a state stamped `after` (see `changes.later`): taken
        inside the transaction, once that state's row is locked."""
        return later(now() if self.journal is None else self.journal.clock(), after)

    def add(self, op: str, at: datetime, fields: Mapping[str, Any]) -> None:
        if self.journal is not None:
            self.paths.append(self.journal.append(op, at, fields))

    def withdraw(self) -> None:
        while self.paths:
            self.journal.withdraw(self.paths.pop())  # type: ignore[union-attr]


def journaled(
    engine: Engine,
    journal: JournalSink | None,
    work: Callable[[Connection, Pending], T],
    what: str = "catalog write",
    kept: KeptWriteConnection | None = None,
) -> T:
    """`database.write(work)`, where `work` journals its change through the `Pending` it gets."""
    pending = Pending(journal)

    def attempt(conn: Connection) -> T:
        pending.withdraw()  # an earlier attempt's, which did not commit
        try:
            return work(conn, pending)
        except BaseException:
            pending.withdraw()
            raise

    return write(engine, attempt, what, kept)
