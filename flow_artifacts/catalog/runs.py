"""Runs and step runs in the catalog: their lifecycle, and the lookups lineage and caching need."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from ..errors import ArtifactNotFound, IntegrityError, InvalidName
from ..limits import ID_CHARS, NAME_CHARS, check_text, storable_text
from . import schema as t
from .database import chunked, insert_ignore
from .journaling import JournalSink, Pending, journaled
from .liveness import CRASHED, RUNNING, Heartbeat, observed_status, writer_fields
from .records import (
    EXTERNAL,
    RUN_FIELDS,
    RunRecord,
    StepRunRecord,
    decode_cursor,
    encode_run_cursor,
    now,
)

# Hot-path lookups, built once.
_RUN_PK = select(t.runs.c.pk).where(
    t.runs.c.project == bindparam("project"), t.runs.c.run_id == bindparam("run_id")
)
_STEP_RUN_ID = select(t.step_runs.c.id).where(
    t.step_runs.c.run_pk == bindparam("run_pk"), t.step_runs.c.step == bindparam("step")
)
_INSERT_STEP_RUN = t.step_runs.insert()
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


class RunLog:
    """The run and step-run half of `Catalog`.

    Runs and step runs opened here record this host and process, and their heartbeat is renewed
    until they finish (see `liveness`); reads report a `running` one whose writer is gone as
    `crashed`.
    """

    engine: Engine
    _known_step_runs: dict[tuple[str, str, str], str]
    _known_projects: set[str]
    _known_runs: dict[tuple[str, str], int]

    @functools.cached_property
    def _heartbeat(self) -> Heartbeat:
        return Heartbeat(self.engine)

    def start_run(
        self,
        project: str,
        run_id: str,
        *,
        name: str | None = None,
        pipeline: str | None = None,
        journal: JournalSink | None = None,
    ) -> None:
        for what, value in (("run name", name), ("pipeline", pipeline)):
            if value is not None:
                check_text(value, what, NAME_CHARS)
        fields = {"project": project, "run_id": run_id, "name": name, "pipeline": pipeline}
        fields["status"] = RUNNING
        fields.update(_writer())

        def work(conn: Connection, pending: Pending) -> int:
            at = pending.stamp(_run_stamp(conn, project, run_id))
            start_run_row(conn, fields, at)
            pending.add("run_start", at, fields)
            return conn.execute(_RUN_PK, {"project": project, "run_id": run_id}).scalar_one()

        run_pk = journaled(self.engine, journal, work)
        self._known_projects.add(project)
        self._known_runs[(project, run_id)] = run_pk
        self._heartbeat.open(run_pk=run_pk)

    def finish_run(
        self,
        project: str,
        run_id: str,
        status: str,
        error: str | None = None,
        *,
        journal: JournalSink | None = None,
    ) -> None:
        self._heartbeat.close(run_pk=self._known_runs.get((project, run_id)))
        fields: dict[str, Any] = {"project": project, "run_id": run_id, "status": status}
        fields["error"] = None if error is None else storable_text(error)

        def work(conn: Connection, pending: Pending) -> None:
            at = pending.stamp(_run_stamp(conn, project, run_id))
            finish_run_row(conn, fields, at)
            pending.add("run_end", at, fields)

        journaled(self.engine, journal, work)

    def start_step_run(
        self,
        project: str,
        run_id: str,
        step: str,
        *,
        params: Mapping[str, Any] | None = None,
        cache_key: str | None = None,
        inputs: Sequence[str] = (),
        step_run_id: str | None = None,
        journal: JournalSink | None = None,
    ) -> str:
        """Record a step run as running; returns its id (`step_run_id`, a framework's task run
        id, or a new one). Step names are unique within a run."""
        if step_run_id is None:
            step_run_id = str(uuid.uuid4())
        else:
            check_text(step_run_id, "step run id", ID_CHARS)

        def work(conn: Connection, pending: Pending) -> int:
            run_pk = self._run_pk(conn, project, run_id)
            at = pending.stamp(_run_stamp(conn, project, run_id))
            fields = {
                "id": step_run_id,
                "step": step,
                "status": RUNNING,
                "params": dict(params or {}),
                "cache_key": cache_key,
                "inputs": list(dict.fromkeys(inputs)),
                **_writer(),
            }
            insert_step_run_row(conn, run_pk, fields, at)
            add_step_inputs(conn, step_run_id, fields["inputs"])
            pending.add("step_run_start", at, _step_run_fields(conn, run_pk, fields))
            return run_pk

        run_pk = journaled(self.engine, journal, work)
        self._known_projects.add(project)
        self._known_runs[(project, run_id)] = run_pk
        self._known_step_runs[(project, run_id, step)] = step_run_id
        self._heartbeat.open(step_run_id=step_run_id)
        return step_run_id

    def finish_step_run(
        self,
        step_run_id: str,
        status: str,
        *,
        error: str | None = None,
        cached: bool = False,
        journal: JournalSink | None = None,
    ) -> None:
        self._heartbeat.close(step_run_id=step_run_id)
        fields = {"id": step_run_id, "status": status, "cached": cached}
        fields["error"] = None if error is None else storable_text(error)

        def work(conn: Connection, pending: Pending) -> None:
            s = t.step_runs
            row = conn.execute(
                select(s.c.started, s.c.ended).where(s.c.id == step_run_id).with_for_update()
            ).first()
            at = pending.stamp(None if row is None else max(filter(None, row)))
            finish_step_run_row(conn, fields, at)
            pending.add("step_run_end", at, fields)

        journaled(self.engine, journal, work)

    def retry_step_run(self, step_run_id: str, *, journal: JournalSink | None = None) -> int:
        """Open again a step run whose attempt was lost, as this process's next attempt;
        returns the attempt's number. Outputs the lost attempt committed stay its outputs."""
        fields: dict[str, Any] = {"id": step_run_id, **_writer()}

        def work(conn: Connection, pending: Pending) -> int:
            s = t.step_runs
            row = conn.execute(
                select(s.c.started, s.c.ended, s.c.attempt)
                .where(s.c.id == step_run_id)
                .with_for_update()
            ).first()
            if row is None:
                raise ArtifactNotFound(f"no step run {step_run_id} to run again")
            at = pending.stamp(max(filter(None, (row.started, row.ended))))
            fields["attempt"] = (row.attempt or 1) + 1
            retry_step_run_row(conn, fields, at)
            pending.add("step_run_retry", at, fields)
            return int(fields["attempt"])

        attempt = journaled(self.engine, journal, work)
        self._heartbeat.open(step_run_id=step_run_id)
        return attempt

    def step_run(self, step_run_id: str) -> StepRunRecord:
        records = self.step_runs_by_ids([step_run_id])
        if not records:
            raise ArtifactNotFound(f"no step run {step_run_id}")
        return records[0]

    def step_runs_by_ids(self, ids: Sequence[str]) -> list[StepRunRecord]:
        found = [r for part in chunked(ids) for r in self._step_runs(t.step_runs.c.id.in_(part))]
        return sorted(found, key=lambda r: r.started)

    def step_run_named(self, project: str, run_id: str, step: str) -> StepRunRecord | None:
        """The step run `step` of a run, or None: one lookup, whatever the run's size."""
        found = self._step_runs(
            and_(t.runs.c.project == project, t.runs.c.run_id == run_id, t.step_runs.c.step == step)
        )
        return found[0] if found else None

    def step_runs_of_run(self, project: str, run_id: str) -> list[StepRunRecord]:
        return self._step_runs(and_(t.runs.c.project == project, t.runs.c.run_id == run_id))

    def consumers(self, artifact_ids: Sequence[str]) -> dict[str, list[str]]:
        """Artifact id -> ids of the step runs that took it as input."""
        si = t.step_inputs
        found: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for part in chunked(artifact_ids):
                query = select(si.c.artifact_id, si.c.step_run_id).where(si.c.artifact_id.in_(part))
                for artifact_id, step_run_id in conn.execute(query):
                    found.setdefault(artifact_id, []).append(step_run_id)
        return found

    def runs(self, project: str | None = None, limit: int = 100) -> list[RunRecord]:
        """Newest runs first; a `running` one whose writer is gone has the status `crashed`."""
        query = select(t.runs).order_by(t.runs.c.started.desc()).limit(limit)
        if project is not None:
            query = query.where(t.runs.c.project == project)
        with self.engine.connect() as conn:
            return [run_record(r, self.engine) for r in conn.execute(query)]

    def runs_page(
        self,
        project: str | None = None,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        page_size: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[RunRecord], str | None]:
        """One page of runs, newest first, filtered by status (as reported: `crashed` is a
        `running` row whose writer is gone) and pipeline; and the cursor of the next page."""
        r = t.runs
        query = select(r).order_by(r.c.started.desc(), r.c.pk.desc()).limit(page_size + 1)
        if project is not None:
            query = query.where(r.c.project == project)
        if pipeline is not None:
            query = query.where(r.c.pipeline == pipeline)
        if status is not None:
            query = query.where(r.c.status == (RUNNING if status == CRASHED else status))
        if cursor is not None:
            started, pk = decode_cursor(cursor)
            if not pk.isdigit():
                raise InvalidName(f"invalid page cursor {cursor!r:.60}; use a page's next_cursor")
            query = query.where(
                or_(r.c.started < started, and_(r.c.started == started, r.c.pk < int(pk)))
            )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        more = len(rows) > page_size
        rows = rows[:page_size]
        found = [run_record(row, self.engine) for row in rows]
        if status is not None:  # a `running` row may read as `crashed`, and the other way
            found = [run for run in found if run.status == status]
        last = rows[-1] if more else None
        return found, (encode_run_cursor(last.started, last.pk) if last is not None else None)

    def run(self, project: str, run_id: str) -> RunRecord:
        """The run (project, run_id); `ArtifactNotFound` if the catalog has none."""
        query = select(t.runs).where(t.runs.c.project == project, t.runs.c.run_id == run_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise ArtifactNotFound(f"no run {run_id!r} in project {project!r}")
        return run_record(row, self.engine)

    def runs_matching(self, run_id: str, project: str | None = None) -> list[RunRecord]:
        """Runs whose id is `run_id` or, when none is, starts with it (a short id as the CLI
        prints it); at most two, which is enough to tell the caller it was ambiguous."""
        r = t.runs
        scope = [r.c.project == project] if project is not None else []
        with self.engine.connect() as conn:
            for condition in (r.c.run_id == run_id, r.c.run_id.startswith(run_id, autoescape=True)):
                rows = conn.execute(select(r).where(condition, *scope).limit(2)).all()
                if rows:
                    return [run_record(row, self.engine) for row in rows]
        return []

    def find_cached(self, cache_key: str) -> StepRunRecord | None:
        """The latest completed, not itself cached, step run with this cache key."""
        records = self._step_runs(
            and_(
                t.step_runs.c.cache_key == cache_key,
                t.step_runs.c.status == "completed",
                t.step_runs.c.cached.is_(False),
            ),
            newest_first=True,
            limit=1,
        )
        return records[0] if records else None

    def _step_runs(
        self, condition: ColumnElement[bool], newest_first: bool = False, limit: int | None = None
    ) -> list[StepRunRecord]:
        s, r = t.step_runs, t.runs
        query = select(s, r.c.project, r.c.run_id).join(r, r.c.pk == s.c.run_pk).where(condition)
        query = query.order_by(s.c.started.desc() if newest_first else s.c.started).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            ids = [row.id for row in rows]
            inputs: dict[str, list[str]] = {}
            outputs: dict[str, list[str]] = {}
            for part in chunked(ids):
                for sr_id, artifact_id in conn.execute(
                    select(t.step_inputs.c.step_run_id, t.step_inputs.c.artifact_id).where(
                        t.step_inputs.c.step_run_id.in_(part)
                    )
                ):
                    inputs.setdefault(sr_id, []).append(artifact_id)
                for sr_id, artifact_id in conn.execute(
                    select(t.artifacts.c.step_run_id, t.artifacts.c.id).where(
                        t.artifacts.c.step_run_id.in_(part)
                    )
                ):
                    outputs.setdefault(sr_id, []).append(artifact_id)
        at = now()
        return [
            StepRunRecord(
                id=row.id,
                project=row.project,
                run_id=row.run_id,
                step=row.step,
                status=observed_status(row, self.engine, at),
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
            for row in rows
        ]

    def _project(self, conn: Connection, project: str) -> None:
        """Ensure the project row; projects are never deleted, so a process remembers them."""
        if project in self._known_projects:
            return
        insert_ignore(conn, t.projects, [{"name": project, "created": now()}])

    def _run_pk(self, conn: Connection, project: str, run_id: str) -> int:
        """The run's key, the row created if new; remembered per process once committed."""
        known = self._known_runs.get((project, run_id))
        if known is not None:
            return known
        self._project(conn, project)
        insert_ignore(
            conn,
            t.runs,
            [
                {
                    "project": project,
                    "run_id": run_id,
                    "status": EXTERNAL,
                    "started": now(),
                }
            ],
        )
        return conn.execute(_RUN_PK, {"project": project, "run_id": run_id}).scalar_one()

    def _step_run(
        self,
        conn: Connection,
        project: str,
        run_id: str,
        step: str,
        wanted_id: str | None = None,
        *,
        pending: Pending | None = None,
    ) -> str:
        """Id of the step run (project, run_id, step), created if new (as an external one).

        A step run created here is journaled to `pending`. Ids are cached per process only
        after their transaction commits (see `record`).
        """
        known = self._known_step_runs.get((project, run_id, step))
        if known is not None:
            return known
        run_pk = self._run_pk(conn, project, run_id)
        params = {"run_pk": run_pk, "step": step}
        found = conn.execute(_STEP_RUN_ID, params).scalar()
        if found is not None:
            return found
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
        at = now() if pending is None else pending.stamp(_run_stamp(conn, project, run_id))
        insert_step_run_row(conn, run_pk, fields, at, ignore=True)
        found = conn.execute(_STEP_RUN_ID, params).scalar()
        if found is None:  # the wanted id (from a manifest) belongs to another run or step
            raise IntegrityError(
                f"step run {fields['id']} is recorded for another run or step than "
                f"{project}/{run_id}/{step}: the manifest disagrees with the catalog"
            )
        if found == fields["id"] and pending is not None:
            pending.add("step_run_start", at, _step_run_fields(conn, run_pk, fields))
        return found


# --- the rows of runs and step runs, as the live calls and their replay write them ---------------


def start_run_row(
    conn: Connection, fields: Mapping[str, Any], at: datetime, *, take_over: bool = True
) -> None:
    """Open a run; with `take_over`, a row left by an earlier run of this id with no steps (see
    `Run`) becomes this one. Only a run opened by a process of ours has a writer and heartbeat."""
    insert_ignore(conn, t.projects, [{"name": fields["project"], "created": at}])
    run = {k: fields[k] for k in ("project", "run_id", "name", "pipeline", "status")}
    pid = fields.get("pid")
    writer = {"host": fields.get("host"), "pid": pid, "heartbeat": None if pid is None else at}
    insert_ignore(conn, t.runs, [{**run, "started": at, **writer}])
    if take_over:
        conn.execute(
            update(t.runs)
            .where(t.runs.c.project == fields["project"], t.runs.c.run_id == fields["run_id"])
            .values(status=fields["status"], **writer)
        )


def finish_run_row(conn: Connection, fields: Mapping[str, Any], at: datetime) -> None:
    conn.execute(
        update(t.runs)
        .where(t.runs.c.project == fields["project"], t.runs.c.run_id == fields["run_id"])
        .values(status=fields["status"], ended=at, error=fields["error"])
    )


def insert_step_run_row(
    conn: Connection, run_pk: int, fields: Mapping[str, Any], at: datetime, ignore: bool = False
) -> None:
    row = {
        "id": fields["id"],
        "run_pk": run_pk,
        "step": fields["step"],
        "status": fields["status"],
        "started": at,
        "params": fields["params"],
        "cache_key": fields["cache_key"],
        "cached": False,
        "host": fields.get("host"),
        "pid": fields.get("pid"),
        "heartbeat": None if fields.get("pid") is None else at,
    }
    if ignore:
        insert_ignore(conn, t.step_runs, [row])
    else:
        conn.execute(_INSERT_STEP_RUN, row)


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
    conn.execute(
        _FINISH_STEP_RUN,
        {
            "step_run_id": fields["id"],
            "new_status": fields["status"],
            "new_ended": at,
            "new_error": fields["error"],
            "new_cached": fields["cached"],
        },
    )


def _step_run_fields(conn: Connection, run_pk: int, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A step run's journal fields, with its run as it is now (replay creates it if missing)."""
    r = t.runs
    run = conn.execute(
        select(r.c.project, r.c.run_id, r.c.status, r.c.started, r.c.name, r.c.pipeline).where(
            r.c.pk == run_pk
        )
    ).one()
    snapshot = {"status": run.status, "started": run.started, "name": run.name}
    snapshot["pipeline"] = run.pipeline
    return {**fields, "project": run.project, "run_id": run.run_id, "run": snapshot}


def _run_stamp(conn: Connection, project: str, run_id: str) -> datetime | None:
    """The stamp of a run's current state (its start, or end), its row locked; None if new."""
    r = t.runs
    row = conn.execute(
        select(r.c.started, r.c.ended)
        .where(r.c.project == project, r.c.run_id == run_id)
        .with_for_update()
    ).first()
    return None if row is None else max(filter(None, row))


def run_record(row: Any, engine: Engine) -> RunRecord:
    """A run row of the catalog at `engine` as reported: a `running` run whose writer is gone is
    `crashed`."""
    values = {name: row._mapping[name] for name in RUN_FIELDS}
    values["status"] = observed_status(row, engine)
    return RunRecord(**values)


def _writer() -> dict[str, Any]:
    """The host and process opening a row now: recorded, and journaled so `reindex` keeps them."""
    writer = writer_fields()
    return {"host": writer["host"], "pid": writer["pid"]}
