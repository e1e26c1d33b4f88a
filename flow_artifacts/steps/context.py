"""Runs: what step calls are recorded under.

A run is a `with fa.run(...)` block, a call of a `@pipeline`, or the implicit run wrapped around a
step called outside both. The current run lives in a context variable, so it follows the code
that opened it (threads started inside a run do not see it unless they copy the context).
"""

from __future__ import annotations

import logging
import threading
import uuid
from contextvars import ContextVar, Token
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, FlowArtifactsError
from ..naming import validate_new_name
from .disabled import steps_disabled
from .framework import FrameworkSteps
from .step_run import StepRun, error_text, now
from .tracking import OUTLIVING_RUNS, trackable

if TYPE_CHECKING:
    from ..artifact import Artifact
    from ..catalog.run_facade import RunBatch
    from ..openlineage import LineageEmitter
    from ..stack import Stack, StackLike
    from .distributed import Submissions
    from .executors import ExecutorLike

log = logging.getLogger("flow_artifacts.steps")

_current: ContextVar[Run | None] = ContextVar("flow_artifacts_run", default=None)


def current_run() -> Run | None:
    """The innermost run being recorded here: an `fa.run` block or pipeline, else the run of the
    framework executing this code (a Prefect flow run, through the `ambient_run` hook), else
    None."""
    run = _current.get()
    if run is None:
        from ..plugins import default_plugin_host

        run = default_plugin_host().ambient_run()
    return run


class Run(FrameworkSteps):
    """A run of steps: its id and status, and the step runs and artifacts it recorded.

    Use it as a block (`with fa.run(project="demo") as run:`) or get one back from a pipeline.
    `artifacts` maps output names to artifacts; a name produced again later in the run is keyed
    `<step run name>/<output name>`.
    """

    def __init__(
        self,
        *,
        project: str | None = None,
        name: str | None = None,
        pipeline: str | None = None,
        cache: bool = True,
        stack: StackLike | None = None,
        run_id: str | None = None,
        executor: ExecutorLike | None = None,
    ) -> None:
        self.id = validate_new_name(run_id, "run_id") if run_id is not None else str(uuid.uuid4())
        self.name = name
        self.pipeline = validate_new_name(pipeline, "pipeline") if pipeline is not None else None
        self.project = validate_new_name(project, "project") if project is not None else None
        self.cache = cache
        self.stack: Stack | None = None
        self.status = "pending"
        self.error: str | None = None
        self.started: datetime | None = None
        self.ended: datetime | None = None
        self.result: Any = None
        """What the pipeline function returned."""
        self.steps: list[StepRun] = []
        self._task_step_runs: dict[str, StepRun] = {}
        self.artifacts: dict[str, Artifact] = {}
        self.recording = False
        self.executor = executor
        """Where steps run: None runs them here, eagerly; else an engine (see `distributed`)."""
        self.submissions: Submissions | None = None
        """The steps submitted to the executor, made at the first step call."""
        self._stack_arg = stack
        self._explicit_id = run_id is not None
        self._used_names: set[str] = set()
        self._calls: dict[str, int] = {}
        self._produced: dict[int, tuple[Any, Artifact]] = {}
        self._parent: Run | None = None
        self._token: Token[Run | None] | None = None
        self._lock = threading.Lock()
        self._lineage: LineageEmitter | None = None
        self._deferring = False
        self._batch: RunBatch | None = None

    @property
    def duration(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return (self.ended - self.started).total_seconds()

    def __enter__(self) -> Run:
        self.start()
        self._parent = _current.get()
        self._token = _current.set(self)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._token is not None:
            try:
                _current.reset(self._token)
            except ValueError:  # ended in another context than it began in (a notebook cell)
                if _current.get() is self:
                    _current.set(None)
        self.finish(exc)

    def start(self, *, resume: bool = False) -> None:
        """Record the run as running. A block does this on entry; a framework integration whose
        run spans no Python block (a Prefect flow run) calls it, and `finish`, itself.

        `resume` continues a run of this id recorded before, by another process (a framework's
        run retried or resumed there, as a Prefect flow run): its step runs are kept, and new
        ones are named after them (`train_2` after `train`), as in the process that began it."""
        self._open_stack()
        if self.stack is not None and self.project is not None:
            if resume:
                recorded = self.stack.catalog.step_runs_of_run(self.project, self.id)
                self._used_names.update(s.step for s in recorded)
            elif self._explicit_id and self.stack.catalog.has_step_runs(self.project, self.id):
                raise ConfigError(
                    f"run {self.id!r} already has recorded steps in project {self.project!r}; "
                    "run ids are unique, so leave run_id unset to get a new one"
                )
            self.stack.catalog.start_run(
                self.project,
                self.id,
                name=self.name,
                pipeline=self.pipeline,
                journal=self.stack.store.journal,
                batch=self._deferred(),
            )
        self.started = now()
        self.status = "running"
        self.emit_lineage()

    def defer_writes(self) -> None:
        """Commit this run's start and its step runs' ends with the next step run's start, or
        with the run's end: one catalog transaction per step run instead of two, for an
        integration whose framework reports each step's start and end (Dagster's events). Until
        then they are not in the catalog: a process that dies before leaves them out (its run
        and its last step run then read as crashed). Call before `start`."""
        self._deferring = True

    def _deferred(self) -> RunBatch | None:
        """The batch deferred writes go to (None: write at once)."""
        if not self._deferring or self.stack is None:
            return None
        if self._batch is None:
            self._batch = self.stack.catalog.batch(self.stack.store.journal)
        return self._batch

    def commit_deferred(self) -> None:
        """Commit the deferred writes now, and those just added with them."""
        if self._batch is not None:
            self._batch.commit()

    def join(self) -> None:
        """Take part in a run that another process runs (a framework's step worker): step runs
        are recorded under this run's id, but the run is neither started nor finished here, so
        its status is not this process's to say. A run row this process creates first is
        `external`, as `fa.materialize` with a run id creates it."""
        self._open_stack()
        self.started = now()
        self.status = "running"

    def _open_stack(self) -> None:
        if self.status != "pending":
            raise FlowArtifactsError(f"run {self.id} was already started; make a new one")
        self.recording = not steps_disabled()
        if self.recording:
            from ..openlineage import emitter_for
            from ..stack import resolve_stack

            self.stack = resolve_stack(self._stack_arg)
            self.project = self.project or validate_new_name(self.stack.project, "project")
            self._lineage = emitter_for(self.stack)

    def finish(self, exc: BaseException | str | None = None) -> None:
        """Record the run's end: completed, or failed with `exc` (an exception, or a framework's
        description of its failure). Waits for submitted steps; re-raises a step's failure."""
        step_failure = None
        if self.submissions is not None:  # the run waits for the steps it submitted
            try:
                if exc is not None:
                    self.submissions.abandon()
                else:
                    self.submissions.join()
            except BaseException as raised:
                exc = step_failure = raised
        self.ended = now()
        self.status = "completed" if exc is None else "failed"
        self.error = None if exc is None else error_text(exc, self.stack)
        self._produced.clear()  # the run's strong references end with it
        if self.recording:
            assert self.stack is not None and self.project is not None
            try:
                self.stack.catalog.finish_run(
                    self.project,
                    self.id,
                    self.status,
                    self.error,
                    journal=self.stack.store.journal,
                    batch=self._deferred(),
                )
                self.commit_deferred()
            except Exception as failure:
                if exc is None:
                    raise
                log.warning(
                    "could not record the end of run %s: %s",
                    self.id,
                    self.stack.scrub(str(failure)),
                )
            self.emit_lineage()
        log.info(
            "run %s (%s) %s after %.3fs",
            self.id,
            self.name or "",
            self.status,
            self.duration or 0.0,
        )
        if step_failure is not None:
            raise step_failure

    # --- used by step calls --------------------------------------------------------------------

    def claim_name(self, step_name: str) -> str:
        """A step-run name unique in this run: `prep`, then `prep_2`, `prep_3`..."""
        with self._lock:
            n = self._calls.get(step_name, 0) + 1
            candidate = step_name if n == 1 else f"{step_name}_{n}"
            while candidate in self._used_names:  # a step literally named like `prep_2`
                n += 1
                candidate = f"{step_name}_{n}"
            self._calls[step_name] = n
            self._used_names.add(candidate)
            return candidate

    def add_step(self, record: StepRun) -> None:
        with self._lock:
            self.steps.append(record)

    def add_output(self, step_run: str, name: str, obj: Any, artifact: Artifact) -> None:
        """Record an output, and remember which artifact `obj` is for later steps' lineage."""
        with self._lock:
            key = name if name not in self.artifacts else f"{step_run}/{name}"
            self.artifacts[key] = artifact
            if trackable(obj):
                self._produced[id(obj)] = (obj, artifact)
                OUTLIVING_RUNS.remember(obj, artifact)

    def producer_of(self, obj: Any) -> Artifact | None:
        """The artifact `obj` was stored as by a step of this run, an enclosing one, or any
        earlier run when the object can be weakly referenced."""
        if not trackable(obj):
            return None
        run: Run | None = self
        while run is not None:
            entry = run._produced.get(id(obj))
            if entry is not None and entry[0] is obj:
                return entry[1]
            run = run._parent
        return OUTLIVING_RUNS.lookup(obj)

    def emit_lineage(self, step_run: StepRun | None = None) -> None:
        """The OpenLineage event of the run's (or `step_run`'s) current state, when its stack has
        the `openlineage` setting; never raises."""
        if self._lineage is None:
            return
        if step_run is None:
            self._lineage.run_event(self)
        else:
            self._lineage.step_event(self, step_run)

    def _recording_stack(self) -> tuple[Stack, str]:
        if not self.recording or self.status != "running":
            raise FlowArtifactsError(
                f"run {self.id} is not recording; start it with `with run:` before its steps"
            )
        assert self.stack is not None and self.project is not None
        return self.stack, self.project

    def __repr__(self) -> str:
        label = f" {self.name}" if self.name else ""
        return (
            f"<Run {self.id}{label} {self.status}: {len(self.steps)} step runs, "
            f"{len(self.artifacts)} artifacts>"
        )


def run(
    project: str | None = None,
    *,
    name: str | None = None,
    cache: bool = True,
    stack: StackLike | None = None,
    run_id: str | None = None,
    executor: ExecutorLike | None = None,
) -> Run:
    """A run for a block of step calls: `with fa.run(project="demo", name="nightly") as run:`.

    `cache=False` makes every cached step run again (and refreshes what later runs reuse).
    `stack` is a `Stack` or a stack file (`path.yaml[#name]`); default: the active stack.
    `executor` (an `Executor`, or "dask", "ray", a plugin's engine name) runs the steps as tasks.
    """
    return Run(
        project=project, name=name, cache=cache, stack=stack, run_id=run_id, executor=executor
    )
