"""`RunMethods`: the run and step-run half of the `Catalog` façade.

Each method opens a connection or a write transaction through the catalog (which alone holds the
engine) and hands it to a query function of `runs` or `run_writes`. Runs and step runs opened
here record this host and process, and their heartbeat is renewed until they finish (see
`liveness`); reads report a `running` one whose writer is gone as `crashed`.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection

from ..errors import ArtifactNotFound, FlowArtifactsError
from ..limits import ID_CHARS, NAME_CHARS, check_text, storable_text
from . import run_writes, runs
from .driver_reads import DriverReads
from .journaling import JournalSink, Pending
from .liveness import RUNNING, Heartbeat
from .records import RunRecord, StepRunRecord, as_moment
from .run_writes import Known, writer

if TYPE_CHECKING:
    from ..manifest import Manifest

T = TypeVar("T")


class RunMethods:
    """Runs and step runs: their lifecycle and reads. Mixed into `Catalog`."""

    _known: Known
    _renews: bool
    _driver: DriverReads | None

    if TYPE_CHECKING:  # what `Catalog` provides, through the engine it alone holds

        def _read(self) -> Connection: ...

        def _write(self, work: Callable[[Connection], T], what: str = ...) -> T: ...

        def _journaled(
            self, journal: JournalSink | None, work: Callable[[Connection, Pending], T]
        ) -> T: ...

    @functools.cached_property
    def _heartbeat(self) -> Heartbeat:
        return Heartbeat(self._write, self._renews)

    def _stop_heartbeat(self) -> None:
        """At close: nothing renews what is still open any more, so it goes stale as it should."""
        if "_heartbeat" in self.__dict__:  # made only once this process opened a run
            self._heartbeat.stop()

    def start_run(
        self,
        project: str,
        run_id: str,
        *,
        name: str | None = None,
        pipeline: str | None = None,
        journal: JournalSink | None = None,
        batch: RunBatch | None = None,
    ) -> None:
        """Record a run as running (`batch`: with the batch's other writes, see `batch`)."""
        for what, value in (("run name", name), ("pipeline", pipeline)):
            if value is not None:
                check_text(value, what, NAME_CHARS)
        fields = {"project": project, "run_id": run_id, "name": name, "pipeline": pipeline}
        fields.update(status=RUNNING, **writer())

        def started(run_pk: int) -> None:
            self._known.projects.add(project)
            self._known.runs[(project, run_id)] = run_pk
            self._heartbeat.open(run_pk=run_pk)

        self._run_write(journal, batch, lambda c, p: run_writes.start_run(c, p, fields), started)

    def finish_run(
        self,
        project: str,
        run_id: str,
        status: str,
        error: str | None = None,
        *,
        journal: JournalSink | None = None,
        batch: RunBatch | None = None,
    ) -> None:
        fields: dict[str, Any] = {"project": project, "run_id": run_id, "status": status}
        fields["error"] = None if error is None else storable_text(error)

        def ended(_: Any) -> None:
            self._heartbeat.close(run_pk=self._known.runs.get((project, run_id)))

        self._end_write(journal, batch, lambda c, p: run_writes.finish_run(c, p, fields), ended)

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
        pipeline: str | None = None,
        batch: RunBatch | None = None,
    ) -> str:
        """Record a step run as running; returns its id (`step_run_id`, a framework's task run
        id, or a new one). Step names are unique within a run. A run this creates (a process
        that joined a run another one runs got here first) is external, of `pipeline`."""
        fields = _step_run_fields(step_run_id, step, params, cache_key, inputs, status=RUNNING)

        def work(conn: Connection, pending: Pending) -> int:
            return run_writes.start_step_run(
                conn, pending, self._known, project, run_id, fields, pipeline
            )

        def started(run_pk: int) -> None:
            self._remember(project, run_id, step, fields["id"], run_pk)
            self._heartbeat.open(step_run_id=fields["id"])

        self._run_write(journal, batch, work, started)
        return str(fields["id"])

    def record_cached_step_run(
        self,
        project: str,
        run_id: str,
        step: str,
        *,
        params: Mapping[str, Any] | None = None,
        cache_key: str,
        inputs: Sequence[str] = (),
        step_run_id: str | None = None,
        journal: JournalSink | None = None,
        pipeline: str | None = None,
        batch: RunBatch | None = None,
    ) -> str:
        """Record a step run that reused an earlier one's outputs: completed and cached from the
        start, in one transaction with one journal record; returns its id (as `start_step_run`
        does, and creates the run as it does)."""
        fields = _step_run_fields(
            step_run_id, step, params, cache_key, inputs, status="completed", cached=True
        )

        def work(conn: Connection, pending: Pending) -> int:
            return run_writes.record_cached_step_run(
                conn, pending, self._known, project, run_id, fields, pipeline
            )

        def recorded(run_pk: int) -> None:
            self._remember(project, run_id, step, fields["id"], run_pk)

        self._run_write(journal, batch, work, recorded)
        return str(fields["id"])

    def _remember(
        self, project: str, run_id: str, step: str, step_run_id: str, run_pk: int
    ) -> None:
        """What this process now knows exists, so later calls skip asking the database."""
        self._known.projects.add(project)
        self._known.runs[(project, run_id)] = run_pk
        self._known.step_runs[(project, run_id, step)] = step_run_id

    def finish_step_run(
        self,
        step_run_id: str,
        status: str,
        *,
        error: str | None = None,
        cached: bool = False,
        journal: JournalSink | None = None,
        batch: RunBatch | None = None,
    ) -> None:
        fields = {"id": step_run_id, "status": status, "cached": cached}
        fields["error"] = None if error is None else storable_text(error)

        def ended(_: Any) -> None:
            self._heartbeat.close(step_run_id=step_run_id)

        self._end_write(
            journal, batch, lambda c, p: run_writes.finish_step_run(c, p, fields), ended
        )

    def batch(self, journal: JournalSink | None = None) -> RunBatch:
        """A batch of run and step-run writes (`start_run`, `start_step_run`, `finish_step_run`,
        `finish_run` given `batch=`), committed by `RunBatch.commit` in one transaction, in the
        order they were made, each journaled as alone: several lifecycle changes of one run
        cost one transaction. Until then they are neither in the catalog nor in the journal."""
        return RunBatch(self, journal)

    def _end_write(
        self,
        journal: JournalSink | None,
        batch: RunBatch | None,
        work: Work,
        ended: Callable[[Any], None],
    ) -> None:
        """The write of an end: alone, its heartbeat stops first (a write that fails leaves the
        row to go stale, read as crashed); batched, once committed (until then the row, still
        `running`, is renewed)."""
        if batch is None:
            ended(None)
            self._journaled(journal, work)
        else:
            batch.add(self, work, ended)

    def _run_write(
        self,
        journal: JournalSink | None,
        batch: RunBatch | None,
        work: Work,
        done: Callable[[Any], None],
    ) -> None:
        """`work` now, in a transaction of its own, or added to `batch` (whose journal is the
        same store's); `done` with its result once committed."""
        if batch is None:
            done(self._journaled(journal, work))
        else:
            batch.add(self, work, done)

    def retry_step_run(self, step_run_id: str, *, journal: JournalSink | None = None) -> int:
        """Open again a step run whose attempt was lost, as this process's next attempt;
        returns the attempt's number. Outputs the lost attempt committed stay its outputs."""
        fields: dict[str, Any] = {"id": step_run_id, **writer()}
        attempt = self._journaled(journal, lambda c, p: run_writes.retry_step_run(c, p, fields))
        self._heartbeat.open(step_run_id=step_run_id)
        return attempt

    def step_run(self, step_run_id: str) -> StepRunRecord:
        records = self.step_runs_by_ids([step_run_id])
        if not records:
            raise ArtifactNotFound(f"no step run {step_run_id}")
        return records[0]

    def step_runs_by_ids(self, ids: Sequence[str]) -> list[StepRunRecord]:
        with self._read() as conn:
            return runs.step_runs_by_ids(conn, ids, self._renews)

    def step_run_named(self, project: str, run_id: str, step: str) -> StepRunRecord | None:
        """The step run `step` of a run, or None: one lookup, whatever the run's size."""
        with self._read() as conn:
            return runs.step_run_named(conn, project, run_id, step, self._renews)

    def has_step_runs(self, project: str, run_id: str) -> bool:
        """Whether the run has a step run: one row read, on file SQLite without SQLAlchemy's
        per-execution work (as `Catalog.get` reads)."""
        params = {"project": project, "run_id": run_id}
        if self._driver is not None:
            return self._driver.first(runs.ANY_STEP_RUN, params) is not None
        with self._read() as conn:
            return conn.execute(runs.ANY_STEP_RUN, params).first() is not None

    def step_runs_of_run(self, project: str, run_id: str) -> list[StepRunRecord]:
        with self._read() as conn:
            return runs.step_runs_of_run(conn, project, run_id, self._renews)

    def consumers(self, artifact_ids: Sequence[str]) -> dict[str, list[str]]:
        """Artifact id -> ids of the step runs that took it as input."""
        with self._read() as conn:
            return runs.consumers(conn, artifact_ids)

    def runs(self, project: str | None = None, limit: int = 100) -> list[RunRecord]:
        """Newest runs first; a `running` one whose writer is gone has the status `crashed`."""
        with self._read() as conn:
            return runs.runs(conn, project, limit, self._renews)

    def runs_page(
        self,
        project: str | None = None,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        page_size: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[RunRecord], str | None]:
        """One page of runs, newest first, filtered by status (as reported: `crashed` is a
        `running` row whose writer is gone), pipeline and start time (`since`, `until`: a
        datetime, `2d`, `yesterday` or an ISO string); and the cursor of the next page."""
        with self._read() as conn:
            return runs.runs_page(
                conn, project, status=status, pipeline=pipeline, page_size=page_size,
                cursor=cursor, renews=self._renews,
                since=None if since is None else as_moment(since, "since"),
                until=None if until is None else as_moment(until, "until"),
            )  # fmt: skip

    def run(self, project: str, run_id: str) -> RunRecord:
        """The run (project, run_id); `ArtifactNotFound` if the catalog has none."""
        with self._read() as conn:
            return runs.run(conn, project, run_id, self._renews)

    def runs_matching(self, run_id: str, project: str | None = None) -> list[RunRecord]:
        """Runs whose id is `run_id` or, when none is, starts with it (a short id as the CLI
        prints it); at most two, which is enough to tell the caller it was ambiguous."""
        with self._read() as conn:
            return runs.runs_matching(conn, run_id, project, self._renews)

    def cached_outputs(self, cache_key: str) -> list[Manifest]:
        """The outputs of the step run `find_cached` finds, in one indexed query (none when
        there is no such step run)."""
        with self._read() as conn:
            return runs.cached_outputs(conn, cache_key)

    def find_cached(self, cache_key: str) -> StepRunRecord | None:
        """The latest completed, not itself cached, step run with this cache key."""
        with self._read() as conn:
            return runs.find_cached(conn, cache_key, self._renews)


Work = Callable[[Connection, Pending], Any]


class RunBatch:
    """Run and step-run writes to commit together (see `RunMethods.batch`)."""

    def __init__(self, catalog: RunMethods, journal: JournalSink | None) -> None:
        self._catalog = catalog
        self._journal = journal
        self._writes: list[tuple[Work, Callable[[Any], None]]] = []
        self._lock = threading.Lock()

    def add(self, catalog: RunMethods, work: Work, done: Callable[[Any], None]) -> None:
        """Add a write of `catalog`, journaled to the batch's journal."""
        if catalog is not self._catalog:
            raise FlowArtifactsError("a batch holds the writes of the catalog that made it")
        with self._lock:
            self._writes.append((work, done))

    def commit(self) -> None:
        """Commit the writes made so far in one transaction (none: nothing to do). Writes
        added meanwhile, by other threads, wait for the next commit: the lock keeps commits in
        the order of their writes."""
        with self._lock:
            writes, self._writes = self._writes, []
            if not writes:
                return
            results = self._catalog._journaled(
                self._journal, lambda c, p: [work(c, p) for work, _ in writes]
            )
        for (_, done), result in zip(writes, results, strict=True):
            done(result)


def _step_run_fields(
    step_run_id: str | None,
    step: str,
    params: Mapping[str, Any] | None,
    cache_key: str | None,
    inputs: Sequence[str],
    **state: Any,
) -> dict[str, Any]:
    """A new step run's row: `step_run_id` (a framework's task run id, checked) or a new id,
    its `state` (status, and for a cache hit `cached`), and this process as its writer."""
    if step_run_id is None:
        step_run_id = str(uuid.uuid4())
    else:
        check_text(step_run_id, "step run id", ID_CHARS)
    return {
        "id": step_run_id,
        "step": step,
        **state,
        "params": dict(params or {}),
        "cache_key": cache_key,
        "inputs": list(dict.fromkeys(inputs)),
        **writer(),
    }
