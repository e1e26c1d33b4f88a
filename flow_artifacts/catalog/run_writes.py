"""Every write of runs and step runs, on a connection: the live lifecycle (`start_run`,
`start_step_run`, their ends and retries, each journaled through its `Pending`), the rows they
and their replay by `reindex` share, and the get-or-create of a project, run and step run that
recording an artifact needs."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.exc import NoResultFound

from ..errors import ArtifactNotFound, ConfigError, IntegrityError
from . import schema as t
from .database import insert_ignore
from .driver_writes import execute
from .journaling import Pending
from .liveness import RUNNING, writer_fields
from .records import EXTERNAL, now

# Built once: building a statement costs more than SQLite running it; each runs through
# `driver_writes.execute`. An UPDATE's own bind names differ from its columns' (SQLAlchemy's rule).
RUN_PK = select(t.runs.c.pk).where(
    t.runs.c.project == bindparam("project"), t.runs.c.run_id == bindparam("run_id")
)
_STEP_RUN_ID = select(t.step_runs.c.id).where(
    t.step_runs.c.run_pk == bindparam("run_pk"), t.step_runs.c.step == bindparam("step")
)
_RUN_STATE = (
    select(t.runs.c.started, t.runs.c.ended)
    .where(t.runs.c.project == bindparam("project"), t.runs.c.run_id == bindparam("run_id"))
    .with_for_update()
)
_RUN_SNAPSHOT = select(
    t.runs.c.project,
    t.runs.c.run_id,
    t.runs.c.status,
    t.runs.c.started,
    t.runs.c.ended,
    t.runs.c.name,
    t.runs.c.pipeline,
)
_RUN_BY_PK = _RUN_SNAPSHOT.where(t.runs.c.pk == bindparam("run_pk"))
_LOCK_RUN = _RUN_SNAPSHOT.where(t.runs.c.pk == bindparam("run_pk")).with_for_update()
_STEP_RUN_STATE = (
    select(t.step_runs.c.started, t.step_runs.c.ended, t.step_runs.c.attempt)
    .where(t.step_runs.c.id == bindparam("step_run_id"))
    .with_for_update()
)
_INSERT_STEP_RUN = t.step_runs.insert()
_THIS_RUN = (
    t.runs.c.project == bindparam("match_project"),
    t.runs.c.run_id == bindparam("match_run_id"),
)
_TAKE_OVER_RUN = (
    update(t.runs)
    .where(*_THIS_RUN)
    .values(
        status=bindparam("new_status"),
        ended=None,
        error=None,
        host=bindparam("new_host"),
        pid=bindparam("new_pid"),
        heartbeat=bindparam("new_heartbeat"),
    )
)
_FINISH_RUN = (
    update(t.runs)
    .where(*_THIS_RUN)
    .values(
        status=bindparam("new_status"), ended=bindparam("new_ended"), error=bindparam("new_error")
    )
)
_FINISH_STEP_RUN = (
    update(t.step_runs)
    .where(t.step_runs.c.id == bindparam("step_run_id"))
    .values(
        status=bindparam("new_status"),
        ended=bindparam("new_ended"),
        error=bindparam("new_error"),
        cached=bindparam("new_cached"),
    )
)


@dataclass
class Known:
    """What one process learned of a catalog's projects, runs and step runs, which are never
    deleted: they are looked up once. Only what a committed transaction made is added."""

    projects: set[str] = field(default_factory=set)
    runs: dict[tuple[str, str], int] = field(default_factory=dict)
    step_runs: dict[tuple[str, str, str], str] = field(default_factory=dict)


# --- the live lifecycle --------------------------------------------------------------------------


def start_run(conn: Connection, pending: Pending, fields: Mapping[str, Any]) -> int:
    """Open a run (or take over one left with no steps); its row number."""
    at = pending.stamp(run_stamp(conn, fields["project"], fields["run_id"]))
    start_run_row(conn, fields, at)
    pending.add("run_start", at, fields)
    params = {"project": fields["project"], "run_id": fields["run_id"]}
    return int(_one(conn, RUN_PK, params)[0])


def finish_run(conn: Connection, pending: Pending, fields: Mapping[str, Any]) -> None:
    at = pending.stamp(run_stamp(conn, fields["project"], fields["run_id"]))
    finish_run_row(conn, fields, at)
    pending.add("run_end", at, fields)


def start_step_run(
    conn: Connection,
    pending: Pending,
    known: Known,
    project: str,
    run_id: str,
    fields: Any,
    pipeline: str | None = None,
) -> int:
    """Record the step run `fields` describes as running in (project, run_id), the run created
    as an external one of `pipeline` if new; the run's row number."""
    pk, run, at = _locked_run(conn, pending, known, project, run_id, pipeline)
    _refuse_taken_name(conn, pk, project, run_id, fields["step"])
    insert_step_run_row(conn, pk, fields, at)
    add_step_inputs(conn, fields["id"], fields["inputs"])
    pending.add("step_run_start", at, _with_run(fields, run))
    return pk


def record_cached_step_run(
    conn: Connection,
    pending: Pending,
    known: Known,
    project: str,
    run_id: str,
    fields: Any,
    pipeline: str | None = None,
) -> int:
    """Record a cache hit's step run, started and completed at once, as one row and one journal
    record (`step_run_cached`): nothing runs in between, so no crash can fall between them. The
    run's row number (the run created as `start_step_run` creates it)."""
    pk, run, at = _locked_run(conn, pending, known, project, run_id, pipeline)
    _refuse_taken_name(conn, pk, project, run_id, fields["step"])
    fields["ended"] = pending.stamp(at)
    insert_step_run_row(conn, pk, fields, at)
    add_step_inputs(conn, fields["id"], fields["inputs"])
    pending.add("step_run_cached", at, _with_run(fields, run))
    return pk


def _refuse_taken_name(conn: Connection, pk: int, project: str, run_id: str, step: str) -> None:
    """A step-run name is unique in its run; processes that joined the run (`fa.RunTicket`)
    each name theirs apart. Checked with the run's row locked, so no other writer gets between."""
    if execute(conn, _STEP_RUN_ID, {"run_pk": pk, "step": step}) is not None:
        raise ConfigError(
            f"run {run_id!r} of project {project!r} already has a step run named {step!r} "
            "(another process that joined the run recorded it); give each process's step runs "
            "names of their own"
        )


def _locked_run(
    conn: Connection,
    pending: Pending,
    known: Known,
    project: str,
    run_id: str,
    pipeline: str | None,
) -> tuple[int, Any, datetime]:
    """The run a step run joins (created as an external run of `pipeline` if new), locked, and
    the stamp of a change made to it now: (row number, its row, stamp)."""
    pk = run_pk(conn, known, project, run_id, pipeline)
    run = _one(conn, _LOCK_RUN, {"run_pk": pk})
    return pk, run, pending.stamp(max(filter(None, (run.started, run.ended))))


def finish_step_run(conn: Connection, pending: Pending, fields: Mapping[str, Any]) -> None:
    row = execute(conn, _STEP_RUN_STATE, {"step_run_id": fields["id"]})
    at = pending.stamp(None if row is None else max(filter(None, (row.started, row.ended))))
    finish_step_run_row(conn, fields, at)
    pending.add("step_run_end", at, fields)


def retry_step_run(conn: Connection, pending: Pending, fields: dict[str, Any]) -> int:
    """Open again a step run whose attempt was lost; the new attempt's number."""
    row = execute(conn, _STEP_RUN_STATE, {"step_run_id": fields["id"]})
    if row is None:
        raise ArtifactNotFound(f"no step run {fields['id']} to run again")
    at = pending.stamp(max(filter(None, (row.started, row.ended))))
    fields["attempt"] = (row.attempt or 1) + 1
    retry_step_run_row(conn, fields, at)
    pending.add("step_run_retry", at, fields)
    return int(fields["attempt"])


def writer() -> dict[str, Any]:
    """The host and process opening a row now: recorded, and journaled so `reindex` keeps them."""
    found = writer_fields()
    return {"host": found["host"], "pid": found["pid"]}


# --- get-or-create, for recording an artifact ----------------------------------------------------


def ensure_project(conn: Connection, known: Known, project: str) -> None:
    """The project's row, created if new."""
    if project not in known.projects:
        insert_ignore(conn, t.projects, [{"name": project, "created": now()}])


def run_pk(
    conn: Connection, known: Known, project: str, run_id: str, pipeline: str | None = None
) -> int:
    """The run's row number, the row created (as an external run of `pipeline`) if new."""
    found = known.runs.get((project, run_id))
    if found is not None:
        return found
    ensure_project(conn, known, project)
    row = {"project": project, "run_id": run_id, "status": EXTERNAL, "started": now()}
    row["pipeline"] = pipeline
    insert_ignore(conn, t.runs, [row])
    return int(_one(conn, RUN_PK, {"project": project, "run_id": run_id})[0])


def step_run_for(
    conn: Connection,
    known: Known,
    project: str,
    run_id: str,
    step: str,
    wanted_id: str | None = None,
    pending: Pending | None = None,
) -> str:
    """Id of the step run (project, run_id, step), created if new (as an external one, with id
    `wanted_id` if given); one created here is journaled to `pending`."""
    found = known.step_runs.get((project, run_id, step))
    if found is not None:
        return found
    pk = run_pk(conn, known, project, run_id)
    params = {"run_pk": pk, "step": step}
    found = _scalar(conn, _STEP_RUN_ID, params)
    if found is not None:
        return str(found)
    fields: dict[str, Any] = {
        "id": wanted_id or str(uuid.uuid4()),
        "step": step,
        "status": EXTERNAL,
        "params": {},
        "cache_key": None,
        "inputs": [],
        "host": None,
        "pid": None,
    }
    at = now() if pending is None else pending.stamp(run_stamp(conn, project, run_id))
    insert_step_run_row(conn, pk, fields, at, ignore=True)
    found = _scalar(conn, _STEP_RUN_ID, params)
    if found is None:  # the wanted id (from a manifest) belongs to another run or step
        raise IntegrityError(
            f"step run {fields['id']} is recorded for another run or step than "
            f"{project}/{run_id}/{step}: the manifest disagrees with the catalog"
        )
    if found == fields["id"] and pending is not None:
        run = _one(conn, _RUN_BY_PK, {"run_pk": pk})
        pending.add("step_run_start", at, _with_run(fields, run))
    return str(found)


# --- the rows of runs and step runs, as the live calls and their replay write them ---------------


def start_run_row(
    conn: Connection, fields: Mapping[str, Any], at: datetime, *, take_over: bool = True
) -> None:
    """Open a run; with `take_over`, a row left by an earlier run of this id with no steps (see
    `Run`), or one resumed, becomes this one: running, without the end of an earlier attempt.
    Only a run opened by a process of ours has a writer and heartbeat."""
    insert_ignore(conn, t.projects, [{"name": fields["project"], "created": at}])
    run = {k: fields[k] for k in ("project", "run_id", "name", "pipeline", "status")}
    pid = fields.get("pid")
    writer = {"host": fields.get("host"), "pid": pid, "heartbeat": None if pid is None else at}
    insert_ignore(conn, t.runs, [{**run, "started": at, **writer}])
    if take_over:
        execute(
            conn,
            _TAKE_OVER_RUN,
            {
                "match_project": fields["project"],
                "match_run_id": fields["run_id"],
                "new_status": fields["status"],
                **{f"new_{key}": value for key, value in writer.items()},
            },
        )


def finish_run_row(conn: Connection, fields: Mapping[str, Any], at: datetime) -> None:
    execute(
        conn,
        _FINISH_RUN,
        {
            "match_project": fields["project"],
            "match_run_id": fields["run_id"],
            "new_status": fields["status"],
            "new_ended": at,
            "new_error": fields["error"],
        },
    )


def insert_step_run_row(
    conn: Connection, run_pk: int, fields: Mapping[str, Any], at: datetime, ignore: bool = False
) -> None:
    """A step run's row as it starts, or (fields with `ended`, a cache hit's) as it ended."""
    row = {
        "id": fields["id"],
        "run_pk": run_pk,
        "step": fields["step"],
        "status": fields["status"],
        "started": at,
        "ended": fields.get("ended"),
        "params": fields["params"],
        "cache_key": fields["cache_key"],
        "cached": fields.get("cached", False),
        "host": fields.get("host"),
        "pid": fields.get("pid"),
        "heartbeat": None if fields.get("pid") is None else at,
    }
    if ignore:
        insert_ignore(conn, t.step_runs, [row])
    else:
        execute(conn, _INSERT_STEP_RUN, row)


def add_step_inputs(conn: Connection, step_run_id: str, inputs: Sequence[str]) -> None:
    insert_ignore(
        conn, t.step_inputs, [{"step_run_id": step_run_id, "artifact_id": i} for i in inputs]
    )


def retry_step_run_row(conn: Connection, fields: Mapping[str, Any], at: datetime) -> None:
    """A step run open again for its next attempt, by the process that runs it."""
    conn.execute(
        update(t.step_runs)
        .where(t.step_runs.c.id == fields["id"])
        .values(
            status=RUNNING,
            ended=None,
            error=None,
            attempt=fields["attempt"],
            host=fields.get("host"),
            pid=fields.get("pid"),
            heartbeat=None if fields.get("pid") is None else at,
        )
    )


def finish_step_run_row(conn: Connection, fields: Mapping[str, Any], at: datetime) -> None:
    execute(
        conn,
        _FINISH_STEP_RUN,
        {
            "step_run_id": fields["id"],
            "new_status": fields["status"],
            "new_ended": at,
            "new_error": fields["error"],
            "new_cached": fields["cached"],
        },
    )


def _with_run(fields: Mapping[str, Any], run: Any) -> dict[str, Any]:
    """A step run's journal fields, with its run as it is now (replay creates it if missing)."""
    snapshot = {"status": run.status, "started": run.started, "name": run.name}
    snapshot["pipeline"] = run.pipeline
    return {**fields, "project": run.project, "run_id": run.run_id, "run": snapshot}


def run_stamp(conn: Connection, project: str, run_id: str) -> datetime | None:
    """The stamp of a run's current state (its start, or end), its row locked; None if new."""
    row = execute(conn, _RUN_STATE, {"project": project, "run_id": run_id})
    return None if row is None else max(filter(None, row))


def _one(conn: Connection, statement: Any, params: Mapping[str, Any]) -> Any:
    """The row `statement` must find (`NoResultFound`, as SQLAlchemy's `one`, if none)."""
    row = execute(conn, statement, params)
    if row is None:
        raise NoResultFound("No row was found when one was required")
    return row


def _scalar(conn: Connection, statement: Any, params: Mapping[str, Any]) -> Any | None:
    return None if (row := execute(conn, statement, params)) is None else row[0]
