"""Plain records the catalog returns, and the small conversions between rows and them."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, and_
from sqlalchemy.sql.elements import ColumnElement

from ..errors import CatalogError, ConfigError, InvalidName
from ..manifest import Manifest
from ..moments import aware, when_given
from . import schema as t
from .driver_writes import execute_many

_INSERT_LABEL = t.labels.insert()

EXTERNAL = "external"
"""Status of runs and step runs whose lifecycle is managed outside flow_artifacts."""


@dataclass
class Page:
    """One page of a listing; pass `next_cursor` back to get the next one (None at the end)."""

    items: list[Manifest]
    next_cursor: str | None
    total: int | None = None
    """How many artifacts match the filters in all pages, when asked for (`total=True`)."""


@dataclass
class RunRecord:
    """A run as reported: a `running` run whose writer is gone has the status `crashed`."""

    project: str
    run_id: str
    status: str
    started: datetime
    name: str | None = None
    pipeline: str | None = None
    ended: datetime | None = None
    error: str | None = None
    host: str | None = None
    """Host and process that recorded it, and when that process last said it was alive."""
    pid: int | None = None
    heartbeat: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in RUN_FIELDS}


RUN_FIELDS = tuple(f.name for f in fields(RunRecord))


@dataclass
class StepRunRecord:
    id: str
    project: str
    run_id: str
    step: str
    status: str
    started: datetime
    ended: datetime | None = None
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    cached: bool = False
    cache_key: str | None = None
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    host: str | None = None
    """Host and process that recorded it, and when that process last said it was alive."""
    pid: int | None = None
    heartbeat: datetime | None = None
    attempt: int = 1
    """1, or more when an engine ran the step again after losing the worker of the one before."""


def insert_labels(
    conn: Connection, artifact_id: str, labels: Mapping[str, str], project: str, created: datetime
) -> None:
    """An artifact's label rows, each repeating the artifact's project and creation time."""
    if labels:
        common = {"artifact_id": artifact_id, "project": project, "created": created}
        execute_many(
            conn, _INSERT_LABEL, [{**common, "key": k, "value": v} for k, v in labels.items()]
        )


def name_is(table: Any, project: str | None, name: str | None) -> ColumnElement[bool]:
    return and_(table.c.project == project, table.c.name == name)


AUTHORITATIVE = (
    "id", "project", "name", "version", "kind", "materializer", "key", "data_path", "checksum",
    "size", "mime_type", "labels", "description", "user_metadata", "step_run_id",
)  # fmt: skip
"""Fields read from a row's own columns; the rest (folder file list, format metadata, run and
step, libraries, inputs) from the manifest JSON the catalog stored with the row."""


MANIFEST_COLUMNS = (
    t.artifacts.c.manifest,
    t.artifacts.c.changed,
    *(t.artifacts.c[name] for name in AUTHORITATIVE),
)
"""What `row_to_manifest` reads of a row."""
ROW_COLUMNS = (t.artifacts.c.created, *MANIFEST_COLUMNS)
"""An artifact's row as listings read it: also its creation time, for their cursors."""


_authoritative = attrgetter(*AUTHORITATIVE)
_MANIFEST_FIELDS = frozenset(f.name for f in fields(Manifest))


def row_to_manifest(row: Any) -> Manifest:
    """The artifact a catalog row records: its columns win over the manifest JSON beside them."""
    body = dict(row.manifest)
    body.update(zip(AUTHORITATIVE, _authoritative(row), strict=True))
    body["labels"] = dict(body["labels"])
    body["user_metadata"] = dict(body["user_metadata"])
    body.pop("format", None)
    body.pop("format_version", None)
    body["updated"] = row.changed.isoformat() if row.changed is not None else None
    if body.keys() == _MANIFEST_FIELDS:  # as in every row this version writes: the generated
        manifest = object.__new__(Manifest)  # __init__ would only bind them, one by one
        manifest.__dict__.update(body)
        return manifest
    try:
        return Manifest(**body)
    except TypeError as exc:
        raise CatalogError(f"catalog row for artifact {row.id} is unreadable: {exc}") from exc


def now() -> datetime:
    return datetime.now(timezone.utc)


def as_moment(value: datetime | str, field: str) -> datetime:
    """A datetime, or a time as users type them (`2d`, `yesterday`, an ISO date or time; see
    `moments.when_given`), as an aware datetime (UTC if naive)."""
    if isinstance(value, str):
        return when_given(value, field)
    if not isinstance(value, datetime):
        raise ConfigError(f"{field} must be a datetime or a string such as 2d or 2026-01-31")
    return aware(value)


def encode_cursor(row: Any) -> str:
    raw = json.dumps([row.created.isoformat(), row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def encode_run_cursor(started: datetime, pk: int) -> str:
    """A runs page's cursor: the last run's start and row number, as `decode_cursor` reads it."""
    raw = json.dumps([started.isoformat(), str(pk)]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, last_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(created), str(last_id)
    except (ValueError, TypeError) as exc:
        raise InvalidName(
            f"invalid page cursor {cursor!r:.60}; use the next_cursor of a page"
        ) from exc
