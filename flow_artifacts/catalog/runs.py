"""Reads of runs and step runs, each on a connection: pages of runs by status and pipeline, runs
named by an id prefix, step runs with their inputs and outputs, and the cache lookup.

`renews` says whether the catalog's open runs renew their heartbeat (see `liveness`): a
`running` row whose writer is gone reads as `crashed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, bindparam, false, literal_column, or_, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from ..errors import ArtifactNotFound, InvalidName
from . import schema as t
from .database import chunked
from .liveness import CRASHED, RUNNING, observed_status
from .records import (
    ROW_COLUMNS,
    RUN_FIELDS,
    RunRecord,
    StepRunRecord,
    decode_cursor,
    encode_run_cursor,
    now,
    row_to_manifest,
)

if TYPE_CHECKING:
    from ..manifest import Manifest

_s, _r, _si, _a = t.step_runs, t.runs, t.step_inputs, t.artifacts
_STEP_RUNS = select(_s, _r.c.project, _r.c.run_id).join(_r, _r.c.pk == _s.c.run_pk)
# Built once, for the step cache's hit: one indexed lookup, then its edges in one query.
_CACHED = (
    _STEP_RUNS.where(
        _s.c.cache_key == bindparam("cache_key"),
        _s.c.status == "completed",
        _s.c.cached.is_(false()),
    )
    .order_by(_s.c.started.desc())
    .limit(1)
)
# The cache hit's outputs in one query: by the step-run index of artifacts, under the cache key's.
_CACHED_ID = (
    select(_s.c.id)
    .where(
        _s.c.cache_key == bindparam("cache_key"),
        _s.c.status == "completed",
        _s.c.cached.is_(false()),
    )
    .order_by(_s.c.started.desc())
    .limit(1)
)
_CACHED_OUTPUTS = select(*ROW_COLUMNS).where(_a.c.step_run_id == _CACHED_ID.scalar_subquery())
_EDGES_OF_ONE = union_all(
    select(literal_column("'in'").label("edge"), _si.c.artifact_id).where(
        _si.c.step_run_id == bindparam("step_run_id")
    ),
    select(literal_column("'out'").label("edge"), _a.c.id).where(
        _a.c.step_run_id == bindparam("step_run_id")
    ),
)


def step_runs(
    conn: Connection,
    condition: ColumnElement[bool],
    renews: bool,
    newest_first: bool = False,
    limit: int | None = None,
) -> list[StepRunRecord]:
    """The step runs matching `condition` (on step runs and their runs), oldest first."""
    query = _STEP_RUNS.where(condition)
    query = query.order_by(_s.c.started.desc() if newest_first else _s.c.started).limit(limit)
    rows = conn.execute(query).all()
    inputs: dict[str, list[str]] = {}
    outputs: dict[str, list[str]] = {}
    for part in chunked([row.id for row in rows]):
        edges = select(_si.c.step_run_id, _si.c.artifact_id).where(_si.c.step_run_id.in_(part))
        for sr_id, artifact_id in conn.execute(edges):
            inputs.setdefault(sr_id, []).append(artifact_id)
        made = select(_a.c.step_run_id, _a.c.id).where(_a.c.step_run_id.in_(part))
        for sr_id, artifact_id in conn.execute(made):
            outputs.setdefault(sr_id, []).append(artifact_id)
    at = now()
    return [_step_run_record(row, inputs, outputs, renews, at) for row in rows]


def step_runs_by_ids(conn: Connection, ids: Sequence[str], renews: bool) -> list[StepRunRecord]:
    found = [r for part in chunked(ids) for r in step_runs(conn, _s.c.id.in_(part), renews)]
    return sorted(found, key=lambda r: r.started)


def step_run_named(
    conn: Connection, project: str, run_id: str, step: str, renews: bool
) -> StepRunRecord | None:
    """The step run `step` of a run, or None: one lookup, whatever the run's size."""
    found = step_runs(
        conn, and_(_r.c.project == project, _r.c.run_id == run_id, _s.c.step == step), renews
    )
    return found[0] if found else None


ANY_STEP_RUN = (
    select(_s.c.id)
    .join(_r, _r.c.pk == _s.c.run_pk)
    .where(_r.c.project == bindparam("project"), _r.c.run_id == bindparam("run_id"))
    .limit(1)
)
"""A step run of the run (project, run_id), if it has any: one indexed lookup, built once."""


def step_runs_of_run(
    conn: Connection, project: str, run_id: str, renews: bool
) -> list[StepRunRecord]:
    return step_runs(conn, and_(_r.c.project == project, _r.c.run_id == run_id), renews)


def find_cached(conn: Connection, cache_key: str, renews: bool) -> StepRunRecord | None:
    """The latest completed, not itself cached, step run with this cache key."""
    row = conn.execute(_CACHED, {"cache_key": cache_key}).first()
    if row is None:
        return None
    inputs: list[str] = []
    outputs: list[str] = []
    for edge, artifact_id in conn.execute(_EDGES_OF_ONE, {"step_run_id": row.id}):
        (inputs if edge == "in" else outputs).append(artifact_id)
    return _step_run_record(row, {row.id: inputs}, {row.id: outputs}, renews, now())


def cached_outputs(conn: Connection, cache_key: str) -> list[Manifest]:
    """The artifacts the latest completed, not itself cached, step run with this key made."""
    return [row_to_manifest(row) for row in conn.execute(_CACHED_OUTPUTS, {"cache_key": cache_key})]


def consumers(conn: Connection, artifact_ids: Sequence[str]) -> dict[str, list[str]]:
    """Artifact id -> ids of the step runs that took it as input."""
    found: dict[str, list[str]] = {}
    for part in chunked(artifact_ids):
        query = select(_si.c.artifact_id, _si.c.step_run_id).where(_si.c.artifact_id.in_(part))
        for artifact_id, step_run_id in conn.execute(query):
            found.setdefault(artifact_id, []).append(step_run_id)
    return found


def runs(conn: Connection, project: str | None, limit: int, renews: bool) -> list[RunRecord]:
    """Newest runs first."""
    query = select(_r).order_by(_r.c.started.desc()).limit(limit)
    if project is not None:
        query = query.where(_r.c.project == project)
    return [run_record(row, renews) for row in conn.execute(query)]


def runs_page(
    conn: Connection,
    project: str | None,
    *,
    status: str | None,
    pipeline: str | None,
    page_size: int,
    cursor: str | None,
    renews: bool,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[RunRecord], str | None]:
    """One page of runs, newest first, filtered by status (as reported), pipeline and start
    time (at or after `since`, before `until`); and the cursor of the next page."""
    query = select(_r).order_by(_r.c.started.desc(), _r.c.pk.desc()).limit(page_size + 1)
    if project is not None:
        query = query.where(_r.c.project == project)
    if since is not None:
        query = query.where(_r.c.started >= since)
    if until is not None:
        query = query.where(_r.c.started < until)
    if pipeline is not None:
        query = query.where(_r.c.pipeline == pipeline)
    if status is not None:
        query = query.where(_r.c.status == (RUNNING if status == CRASHED else status))
    if cursor is not None:
        started, pk = decode_cursor(cursor)
        if not pk.isdigit():
            raise InvalidName(f"invalid page cursor {cursor!r:.60}; use a page's next_cursor")
        query = query.where(
            or_(_r.c.started < started, and_(_r.c.started == started, _r.c.pk < int(pk)))
        )
    rows = conn.execute(query).all()
    more = len(rows) > page_size
    rows = rows[:page_size]
    found = [run_record(row, renews) for row in rows]
    if status is not None:  # a `running` row may read as `crashed`, and the other way
        found = [run for run in found if run.status == status]
    last = rows[-1] if more else None
    return found, (encode_run_cursor(last.started, last.pk) if last is not None else None)


def run(conn: Connection, project: str, run_id: str, renews: bool) -> RunRecord:
    """The run (project, run_id); `ArtifactNotFound` if the catalog has none."""
    query = select(_r).where(_r.c.project == project, _r.c.run_id == run_id)
    row = conn.execute(query).first()
    if row is None:
        raise ArtifactNotFound(f"no run {run_id!r} in project {project!r}")
    return run_record(row, renews)


def runs_matching(
    conn: Connection, run_id: str, project: str | None, renews: bool
) -> list[RunRecord]:
    """Runs whose id is `run_id` or, when none is, starts with it (a short id as the CLI
    prints it); at most two, which is enough to tell the caller it was ambiguous."""
    scope = [_r.c.project == project] if project is not None else []
    for condition in (_r.c.run_id == run_id, _r.c.run_id.startswith(run_id, autoescape=True)):
        rows = conn.execute(select(_r).where(condition, *scope).limit(2)).all()
        if rows:
            return [run_record(row, renews) for row in rows]
    return []


def run_record(row: Any, renews: bool) -> RunRecord:
    """A run row as reported: a `running` run whose writer is gone is `crashed`."""
    values = {name: row._mapping[name] for name in RUN_FIELDS}
    values["status"] = observed_status(row, renews)
    return RunRecord(**values)


def _step_run_record(
    row: Any,
    inputs: dict[str, list[str]],
    outputs: dict[str, list[str]],
    renews: bool,
    at: Any,
) -> StepRunRecord:
    return StepRunRecord(
        id=row.id,
        project=row.project,
        run_id=row.run_id,
        step=row.step,
        status=observed_status(row, renews, at),
        started=row.started,
        ended=row.ended,
        params=row.params or {},
        error=row.error,
        cached=bool(row.cached),
        cache_key=row.cache_key,
        inputs=inputs.get(row.id, []),
        outputs=outputs.get(row.id, []),
        host=row.host,
        pid=row.pid,
        heartbeat=row.heartbeat,
        attempt=row.attempt or 1,
    )
