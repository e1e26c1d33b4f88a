"""The store's journal: every catalog change after a write, as a small write-once record.

Manifests say what was written; the journal says what happened since: tags set and removed,
label and description updates, metadata aspects, deletes (tombstones), runs and step runs. With
both, `reindex` rebuilds a lost catalog exactly from the store alone.

Records live under one reserved top-level folder, `JOURNAL_DIR`, that no artifact key can name, as
`<JOURNAL_DIR>/<day>/<stamp>-<uuid>.json`, each created exclusively, so concurrent writers never
overwrite one another. The catalog writes a record inside the transaction of its change, after the
rows it changes are locked, and withdraws it if the transaction does not commit. A record's stamp
`at` is causal (see `catalog/changes.py`): the writer's clock, but later than the stamp of the
state the change replaces, so conflicting changes replay in commit order even across hosts whose
clocks differ; `read` returns records in stamp order. A crash between
record and commit leaves a record of a change the caller asked for, that was validated, and whose
commit was cut short: replaying it yields the state that commit would have made, every replay is
idempotent, and one whose artifact no longer exists is skipped. See docs/architecture.md.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .errors import FlowArtifactsError, IntegrityError
from .limits import (
    CHECKSUM_CHARS,
    ID_CHARS,
    MAX_JSON_FILE_BYTES,
    MAX_PARAM_CHARS,
    MAX_VERSION,
    NAME_CHARS,
    STATUS_CHARS,
    check_json,
    check_labels,
    check_text,
    parse_json_file,
)
from .moments import parse_moment
from .naming import validate_aspect_name, validate_name
from .stores.paths import JOURNAL_DIR

if TYPE_CHECKING:
    from .stores.store import ArtifactStore

FORMAT = "flow-artifacts.journal"
FORMAT_VERSION = 1
SUFFIX = ".json"

_last_stamp = datetime.min.replace(tzinfo=timezone.utc)
_stamp_lock = threading.Lock()


@dataclass(frozen=True)
class JournalRecord:
    """One change, as read back and validated: `op`, its time `at`, and its fields."""

    path: str
    """Where the record is, relative to the store root."""
    op: str
    at: datetime
    fields: dict[str, Any]


class Journal:
    """The journal of one store: append records, withdraw uncommitted ones, read them all."""

    def __init__(self, store: ArtifactStore) -> None:
        self._store = store

    def clock(self) -> datetime:
        """This writer's clock: the time now, after every stamp this process took before."""
        return _next_stamp()

    def append(self, op: str, at: datetime, fields: Mapping[str, Any]) -> str:
        """Write one record stamped `at`; returns its store-relative path (for `withdraw`)."""
        body = {"format": FORMAT, "format_version": FORMAT_VERSION, "op": op, "at": at, **fields}
        _check(op, body)
        raw = json.dumps(body, sort_keys=True, default=_iso, allow_nan=False).encode("utf-8")
        if len(raw) > MAX_JSON_FILE_BYTES:
            raise IntegrityError(
                f"this {op} would make a journal record of {len(raw) >> 20} MiB, more than the "
                f"{MAX_JSON_FILE_BYTES >> 20} MiB a record may hold; record less"
            )
        stamp = at.astimezone(timezone.utc)
        rel = f"{JOURNAL_DIR}/{stamp:%Y-%m-%d}/{stamp:%Y%m%dT%H%M%S.%fZ}-{uuid.uuid4().hex}{SUFFIX}"
        self._store.write_small(rel, raw)
        return rel

    def withdraw(self, rel: str) -> None:
        """Delete a record whose change did not commit (exactly that file; failing is logged)."""
        self._store.remove_file(rel)

    def read(self) -> tuple[list[JournalRecord], list[tuple[str, str]]]:
        """All records in stamp order, and (path, problem) for each one that could not be used."""
        records, problems = [], []
        for rel in self._store.list_files(JOURNAL_DIR):
            name = rel.rsplit("/", 1)[-1]
            if not name.endswith(SUFFIX) or name.startswith("."):
                continue  # a temporary of a record being written
            try:
                records.append(parse_record(rel, self._store.read_small(rel)))
            except FlowArtifactsError as exc:
                problems.append((rel, str(exc)))
        records.sort(key=lambda r: (r.at, r.path.rsplit("/", 1)[-1]))
        return records, problems


def parse_record(rel: str, raw: bytes) -> JournalRecord:
    """A record read from the store (untrusted): every field checked, as when it was written."""
    body = parse_json_file(raw, f"journal record {rel}")
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise IntegrityError(f"{rel} is not a flow-artifacts journal record")
    if body.get("format_version") != FORMAT_VERSION:
        raise IntegrityError(
            f"journal record {rel} has format version {body.get('format_version')!r}; this "
            f"release reads version {FORMAT_VERSION}: upgrade flow-artifacts"
        )
    op = body.get("op")
    try:
        fields = _check(op, body)
    except (FlowArtifactsError, ValueError, TypeError) as exc:
        raise IntegrityError(f"journal record {rel} is invalid: {exc}") from exc
    at = fields.pop("at")
    return JournalRecord(rel, op, at, fields)  # type: ignore[arg-type]


# --- what each record holds ----------------------------------------------------------------------


def _name(value: Any, what: str) -> str:
    return validate_name(value, what)


def _aspect_name(value: Any, what: str) -> str:
    return validate_aspect_name(value)


def _text(limit: int | None) -> Callable[[Any, str], str]:
    return lambda value, what: check_text(value, what, limit)


def _optional(check: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    return lambda value, what: None if value is None else check(value, what)


def _moment(value: Any, what: str) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{what} must be an ISO date-time")
    return parse_moment(value)


def _json(value: Any, what: str) -> Any:
    check_json(value, what)
    return value


def _params(value: Any, what: str) -> dict[str, Any]:
    """Step parameters as recorded (see steps/arguments.py): names to JSON values, each at most
    MAX_PARAM_CHARS long as JSON."""
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be a mapping")
    for name, param in value.items():
        check_text(name, "parameter name", NAME_CHARS)
        check_json(param, f"parameter {name}")
        if len(json.dumps(param, allow_nan=False)) > MAX_PARAM_CHARS:
            raise TypeError(f"parameter {name} is longer than {MAX_PARAM_CHARS} characters")
    return value


def _integer(value: Any, what: str) -> int:
    """A version or process id: a positive 32-bit integer, as the catalog's columns hold."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VERSION:
        raise TypeError(f"{what} must be a positive integer up to {MAX_VERSION}")
    return value


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be true or false")
    return value


def _ids(value: Any, what: str) -> list[str]:
    if not isinstance(value, list):
        raise TypeError(f"{what} must be a list of ids")
    return [check_text(i, what, ID_CHARS) for i in value]


def _label_patch(value: Any, what: str) -> dict[str, str | None]:
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be a mapping")
    check_labels({k: "" if v is None else v for k, v in value.items()})
    return value


def _metadata_patch(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"{what} must be a mapping of names")
    check_json(value, what)
    return value


def _run(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be a mapping")
    return _fields(value, _RUN_SNAPSHOT, what)


_ID = _text(ID_CHARS)
_STATUS = _text(STATUS_CHARS)
_STEP_RUN_START: dict[str, Callable[[Any, str], Any]] = {
    "id": _ID,
    "project": _name,
    "run_id": _name,
    "step": _name,
    "status": _STATUS,
    "params": _params,
    "cache_key": _optional(_text(CHECKSUM_CHARS)),
    "inputs": _ids,
    "run": _run,
    "host": _optional(_text(NAME_CHARS)),
    "pid": _optional(_integer),
}
"""A step run's start; a cache hit's record is the same, already ended."""
_RUN_SNAPSHOT = {
    "status": _STATUS,
    "started": _moment,
    "name": _optional(_text(NAME_CHARS)),
    "pipeline": _optional(_text(NAME_CHARS)),
}
_OPS: dict[str, dict[str, Callable[[Any, str], Any]]] = {
    "tag": {"project": _name, "name": _name, "tag": _name, "artifact_id": _ID},
    "untag": {"project": _name, "name": _name, "tag": _name},
    "update": {
        "artifact_id": _ID,
        "labels": _optional(_label_patch),
        "description": _optional(_text(None)),
        "metadata": _optional(_metadata_patch),
    },
    "aspect": {"artifact_id": _ID, "aspect": _aspect_name, "body": _json, "json_schema": _json},
    "delete": {
        "artifact_id": _ID,
        "project": _name,
        "name": _name,
        "version": _integer,
        "step_run_id": _optional(_ID),
        "inputs": _ids,
    },
    "run_start": {
        "project": _name,
        "run_id": _name,
        "name": _optional(_text(NAME_CHARS)),
        "pipeline": _optional(_text(NAME_CHARS)),
        "status": _STATUS,
        "host": _optional(_text(NAME_CHARS)),
        "pid": _optional(_integer),
    },
    "run_end": {
        "project": _name,
        "run_id": _name,
        "status": _STATUS,
        "error": _optional(_text(None)),
    },
    "step_run_start": _STEP_RUN_START,
    "step_run_cached": {**_STEP_RUN_START, "cached": _flag, "ended": _moment},
    "step_run_retry": {
        "id": _ID,
        "attempt": _integer,
        "host": _optional(_text(NAME_CHARS)),
        "pid": _optional(_integer),
    },
    "step_run_end": {
        "id": _ID,
        "status": _STATUS,
        "error": _optional(_text(None)),
        "cached": _flag,
    },
}


_ADDED_LATER = {("update", "metadata")}
"""Optional fields added after records without them were written: absent reads as None."""


def _check(op: Any, body: Mapping[str, Any]) -> dict[str, Any]:
    spec = _OPS.get(op) if isinstance(op, str) else None
    if spec is None:
        raise IntegrityError(f"unknown journal operation {op!r:.40}")
    fields = _fields(body, spec, op)
    fields["at"] = _moment(body.get("at"), "at")
    return fields


def _fields(
    body: Mapping[str, Any], spec: Mapping[str, Callable[[Any, str], Any]], what: str
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for field_name, check in spec.items():
        if field_name not in body:
            if (what, field_name) in _ADDED_LATER:
                fields[field_name] = None
                continue
            raise IntegrityError(f"{what} record lacks {field_name!r}")
        fields[field_name] = check(body[field_name], field_name)
    return fields


def _next_stamp() -> datetime:
    """Now, but always after the previous record of this process, so names sort in order."""
    global _last_stamp
    with _stamp_lock:
        stamp = max(datetime.now(timezone.utc), _last_stamp + timedelta(microseconds=1))
        _last_stamp = stamp
        return stamp


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot record a {type(value).__name__} in the journal")
