"""Steps of a run with an executor: submitted as tasks, run on workers, joined at the run's end.

Only references cross the network. The driver claims each step-run name in call order (so names
are those of a local run), replaces handles and artifacts in the arguments by placeholders, and
submits the step with its stack as configuration: a stack file's path and name, or the settings
of a stack that holds no secret. A worker opens the stack itself (`${VAR}` expanded from its own
environment), loads its inputs from the store, verified, or takes an object it produced itself
and still holds, runs the step exactly as a local call does, commits its outputs, and returns
their artifact ids.

A step whose worker was lost is run again by the engine. The new attempt finds its step run
still open, records it as attempt n+1, and keeps the outputs the lost attempt had committed
(a commit happens whole or leaves no trace), so no key is written twice.
"""

from __future__ import annotations

import collections
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..artifact import Artifact
from ..errors import ConfigError
from ..redact import secret_values
from .context import Run, StepRun, _current, log
from .outputs import Outputs
from .tracking import trackable

if TYPE_CHECKING:
    from ..stack import Stack
    from .decorator import Step
    from .executors import Executor

MAX_DEPTH = 20
HELD_OBJECTS = 8
"""Outputs a worker process keeps, by artifact id, for a later step it runs to take as they are."""


# --- the stack as configuration ------------------------------------------------------------------


@dataclass(frozen=True)
class StackSpec:
    """How a worker opens the run's stack: a stack file, or the settings of a stack without
    secrets. Never holds a secret: those come from the worker's environment."""

    file: str | None = None
    name: str | None = None
    settings: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, stack: Stack) -> StackSpec:
        if stack.source is not None:
            from ..stack.file import read_stack_config

            single = read_stack_config(stack.source).name == stack.name
            return cls(file=stack.source, name=None if single else stack.name)
        options = {
            k: v
            for k, v in getattr(stack.store.fs, "storage_options", {}).items()
            if k != "use_listings_cache"
        }
        if options or stack.secrets or secret_values(stack.catalog.url):
            raise ConfigError(
                f"stack {stack.name!r} holds storage options or credentials, which never travel "
                "to workers; describe it in a stack file with ${VAR} for each secret and set "
                "those variables in the workers' environment"
            )
        settings = {
            "store_url": _raw_store_url(stack),
            "template": stack.store.template.source,
            "catalog_url": stack.catalog.url,
            "overrides": tuple(sorted(stack.overrides.items())),
            "allow_pickle": stack.allow_pickle,
            "trusted_projects": stack.trusted_projects,
            "name": stack.name,
            "project": stack.project,
        }
        return cls(settings=tuple(sorted(settings.items())))

    def open(self) -> Stack:
        from ..catalog import Catalog
        from ..stack import Stack
        from ..stores.store import ArtifactStore

        if self.file is not None:
            return Stack.from_yaml(self.file, self.name)
        s = dict(self.settings)
        return Stack(
            store=ArtifactStore(s["store_url"], template=s["template"]),
            catalog=Catalog(s["catalog_url"]),
            overrides=dict(s["overrides"]),
            allow_pickle=s["allow_pickle"],
            trusted_projects=s["trusted_projects"],
            name=s["name"],
            project=s["project"],
        )


def _raw_store_url(stack: Stack) -> str:
    protocol = stack.store.fs.protocol
    protocol = protocol[0] if isinstance(protocol, (tuple, list)) else protocol
    if protocol in ("file", "local"):
        return str(stack.store.root)
    return str(stack.store.url)


def check_shareable(stack: Stack, executor: Executor) -> None:
    """Refuse a stack that the executor's workers cannot all reach."""
    protocol = stack.store.fs.protocol
    protocols = protocol if isinstance(protocol, (tuple, list)) else (protocol,)
    if "memory" in protocols:
        raise ConfigError(
            f"stack {stack.name!r} keeps its artifacts in memory://, which worker processes "
            "cannot see; use a folder or an object store for runs with an executor"
        )
    backend = stack.catalog.backend
    if stack.catalog.in_memory:
        raise ConfigError(
            f"stack {stack.name!r} has an in-memory SQLite catalog, which worker processes "
            "cannot see; use a SQLite file or PostgreSQL"
        )
    if backend == "sqlite" and executor.multi_machine():
        raise ConfigError(
            f"stack {stack.name!r} has a SQLite catalog, but {executor.name} workers run on "
            "other machines, where that file is not shared safely; use PostgreSQL "
            "(catalog: {url: postgresql+psycopg://...}), or workers on this machine only"
        )


_opened: dict[StackSpec, Stack] = {}
_opened_lock = threading.Lock()


def _worker_stack(spec: StackSpec) -> Stack:
    """One open stack per spec and worker process: engines are not reopened per task."""
    with _opened_lock:
        stack = _opened.get(spec)
        if stack is None:
            stack = _opened[spec] = spec.open()
        return stack


# --- what travels --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Upstream:
    """An argument that is the output `output` (all of them when None) of dependency `index`."""

    index: int
    output: str | None


@dataclass(frozen=True)
class _Stored:
    """An argument that is a stored artifact, by id."""

    artifact_id: str


@dataclass(frozen=True)
class StepTask:
    step: Step
    step_run: str
    project: str
    run_id: str
    pipeline: str | None
    cache: bool
    stack: StackSpec
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class TaskResult:
    """What a worker sends back: the step run's id and its outputs' artifact ids, by name."""

    step_run_id: str
    outputs: tuple[tuple[str, str], ...]
    several: bool


def submit(run: Run, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> StepHandle:
    """Submit a step of a run with an executor; at the run's first step, check its stack."""
    if run.submissions is None:
        from .executors import resolve_executor

        assert run.stack is not None and run.executor is not None
        engine = resolve_executor(run.executor, run.stack.plugins)
        check_shareable(run.stack, engine)
        run.submissions = Submissions(run, engine, StackSpec.of(run.stack))
    return run.submissions.submit(step, args, kwargs)


# --- the driver ----------------------------------------------------------------------------------


class StepHandle:
    """The outputs of a submitted step. Pass it to another step (a dependency), unpack it for a
    step with several outputs, or call `result()` (or `load()`) to wait and get the objects."""

    def __init__(self, submissions: Submissions, index: int, step: Step, step_run: str) -> None:
        self._submissions = submissions
        self._index = index
        self.step = step
        self.step_run = step_run

    def result(self) -> Any:
        """Wait for the step and load its outputs: the object, or `Outputs` for several."""
        done = self._submissions.outcome(self._index)
        artifacts = self._submissions.artifacts_of(done)
        if not done.several:
            return None if not artifacts else next(iter(artifacts.values())).load()
        return Outputs(artifacts, (a.load() for a in artifacts.values()))

    load = result

    @property
    def artifacts(self) -> dict[str, Artifact]:
        """Wait for the step; its artifacts by output name."""
        return self._submissions.artifacts_of(self._submissions.outcome(self._index))

    def __iter__(self) -> Iterator[OutputHandle]:
        if not self.step.several_outputs:
            raise TypeError(f"step {self.step.name!r} has one output; it cannot be unpacked")
        return iter([OutputHandle(self, name) for name in self.step.output_names])

    def __getitem__(self, key: str | int) -> OutputHandle:
        names = self.step.output_names
        if isinstance(key, int):
            return OutputHandle(self, names[key])
        if key not in names:
            raise KeyError(f"no output {key!r}; outputs: {', '.join(names)}")
        return OutputHandle(self, key)

    def __repr__(self) -> str:
        return f"<StepHandle {self.step_run}>"


class OutputHandle:
    """One output of a submitted step with several."""

    def __init__(self, parent: StepHandle, name: str) -> None:
        self.parent = parent
        self.name = name

    def result(self) -> Any:
        return self.artifact.load()

    load = result

    @property
    def artifact(self) -> Artifact:
        return self.parent.artifacts[self.name]

    def __repr__(self) -> str:
        return f"<OutputHandle {self.parent.step_run}.{self.name}>"


@dataclass
class _Entry:
    step: Step
    step_run: str
    future: Any
    outcome: TaskResult | None = None
    error: BaseException | None = None


@dataclass
class Submissions:
    """The steps a run submitted to its executor, in call order."""

    run: Run
    executor: Executor
    spec: StackSpec
    entries: list[_Entry] = field(default_factory=list)

    def submit(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> StepHandle:
        run = self.run
        assert run.project is not None
        if step.cache:  # hashed here, where the source is: a worker may get the code by value
            step.code_fingerprint  # noqa: B018
        futures: list[Any] = []
        task = StepTask(
            step=step,
            step_run=run.claim_name(step.name),
            project=run.project,
            run_id=run.id,
            pipeline=run.pipeline,
            cache=run.cache,
            stack=self.spec,
            args=_placeholders(args, futures, self, 0),
            kwargs=_placeholders(kwargs, futures, self, 0),
        )
        key = f"{step.name}-{uuid.uuid4().hex}"
        future = self.executor.submit(run_task, [task, *futures], key=key)
        self.entries.append(_Entry(step, task.step_run, future))
        return StepHandle(self, len(self.entries) - 1, step, task.step_run)

    def outcome(self, index: int) -> TaskResult:
        entry = self.entries[index]
        if entry.outcome is None and entry.error is None:
            try:
                entry.outcome = self.executor.result(entry.future)
            except BaseException as exc:
                entry.error = exc
        if entry.error is not None:
            raise entry.error
        assert entry.outcome is not None
        return entry.outcome

    def artifacts_of(self, done: TaskResult) -> dict[str, Artifact]:
        stack = self.run.stack
        assert stack is not None
        manifests = {m.id: m for m in stack.catalog.by_ids([i for _, i in done.outputs])}
        return {
            name: Artifact(manifests[i], store=stack.store, stack=stack) for name, i in done.outputs
        }

    def join(self) -> None:
        """Wait for every step; on the first failure cancel what has not run and re-raise it.
        The run's `steps` and `artifacts` are then filled in call order."""
        failure: BaseException | None = None
        for index in range(len(self.entries)):
            try:
                self.outcome(index)
            except BaseException as exc:
                failure = exc
                self.executor.cancel([e.future for e in self.entries[index + 1 :]])
                break
        self._collect()
        if failure is not None:
            raise failure

    def abandon(self) -> None:
        """The driver is failing by itself: cancel what has not run."""
        self.executor.cancel([e.future for e in self.entries])
        self._collect()

    def _collect(self) -> None:
        run, stack = self.run, self.run.stack
        assert stack is not None and run.project is not None
        recorded = {r.step: r for r in stack.catalog.step_runs_of_run(run.project, run.id)}
        inputs = {
            m.id: m
            for m in stack.catalog.by_ids(list({i for r in recorded.values() for i in r.inputs}))
        }
        for entry in self.entries:
            record = recorded.get(entry.step_run)
            if record is None:
                continue  # cancelled before it started
            step_run = StepRun(
                name=record.step,
                step=entry.step.name,
                started=record.started,
                params=dict(record.params),
                inputs=[
                    Artifact(inputs[i], store=stack.store, stack=stack)
                    for i in record.inputs
                    if i in inputs
                ],
                cache_key=record.cache_key,
                id=record.id,
                status=record.status,
                ended=record.ended,
                cached=record.cached,
                error=record.error,
            )
            run.add_step(step_run)
            if entry.outcome is not None:
                for name, artifact in self.artifacts_of(entry.outcome).items():
                    step_run.outputs[name] = artifact
                    run.add_output(step_run.name, name, None, artifact)


def _placeholders(value: Any, futures: list[Any], subs: Submissions, depth: int) -> Any:
    """`value` with handles and artifacts replaced by what travels; dependencies collected."""
    if isinstance(value, (StepHandle, OutputHandle)):
        handle = value if isinstance(value, StepHandle) else value.parent
        if handle._submissions is not subs:
            raise ConfigError(
                f"{value!r} belongs to another run; pass its artifact (`.artifact`) instead"
            )
        futures.append(subs.entries[handle._index].future)
        output = value.name if isinstance(value, OutputHandle) else None
        return _Upstream(len(futures) - 1, output)
    if isinstance(value, Artifact):
        return _Stored(value.id)
    if depth >= MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {k: _placeholders(v, futures, subs, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v, futures, subs, depth + 1) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_make"):
        return tuple(_placeholders(v, futures, subs, depth + 1) for v in value)
    return value


# --- the worker ----------------------------------------------------------------------------------

_held: collections.OrderedDict[str, Any] = collections.OrderedDict()
_held_lock = threading.Lock()


def run_task(task: StepTask, *upstream: TaskResult) -> TaskResult:
    """Run one step on a worker, as a local call in the run would, and return references."""
    from .execute import call_in_run

    stack = _worker_stack(task.stack)
    run = Run(project=task.project, pipeline=task.pipeline, cache=task.cache, run_id=task.run_id)
    run.stack, run.recording, run.status = stack, True, "running"
    earlier = stack.catalog.step_run_named(task.project, task.run_id, task.step_run)
    if earlier is not None and earlier.status == "completed":  # lost after it finished
        return _result(task.step, earlier.id, stack.catalog.by_ids(earlier.outputs))
    resume = None
    if earlier is not None:
        attempt = stack.catalog.retry_step_run(earlier.id, journal=stack.store.journal)
        log.warning("step %s: attempt %d (an earlier one was lost)", task.step_run, attempt)
        kept = stack.catalog.by_ids(earlier.outputs)
        resume = (earlier.id, {m.name: Artifact(m, store=stack.store, stack=stack) for m in kept})
    args = _materialize(task.args, run, stack, upstream)
    kwargs = _materialize(task.kwargs, run, stack, upstream)
    token = _current.set(run)  # a step the step calls runs here, in this run
    try:
        call_in_run(task.step, run, args, kwargs, step_run_name=task.step_run, resume=resume)
    finally:
        _current.reset(token)
    record = run.steps[-1]
    produced = {artifact.id: obj for obj, artifact in run._produced.values()}
    with _held_lock:
        for artifact in record.outputs.values():
            if artifact.id in produced:
                _held[artifact.id] = produced[artifact.id]
                _held.move_to_end(artifact.id)
        while len(_held) > HELD_OBJECTS:
            _held.popitem(last=False)
    return TaskResult(
        record.id,
        tuple((name, a.id) for name, a in record.outputs.items()),
        task.step.several_outputs,
    )


def _result(step: Step, step_run_id: str, manifests: list[Any]) -> TaskResult:
    return TaskResult(step_run_id, tuple((m.name, m.id) for m in manifests), step.several_outputs)


def _materialize(value: Any, run: Run, stack: Stack, upstream: tuple[TaskResult, ...]) -> Any:
    if isinstance(value, _Upstream):
        done = upstream[value.index]
        names = dict(done.outputs)
        if value.output is not None:
            return _input(names[value.output], run, stack)
        if not done.outputs:
            return None
        if not done.several:
            return _input(done.outputs[0][1], run, stack)
        return Outputs(names, (_input(i, run, stack) for i in names.values()))
    if isinstance(value, _Stored):
        return _input(value.artifact_id, run, stack, held=False)
    if isinstance(value, dict):
        return {k: _materialize(v, run, stack, upstream) for k, v in value.items()}
    if isinstance(value, list):
        return [_materialize(v, run, stack, upstream) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_make"):
        return tuple(_materialize(v, run, stack, upstream) for v in value)
    return value


def _input(artifact_id: str, run: Run, stack: Stack, held: bool = True) -> Any:
    """An upstream output as the step gets it in a local run: the object this worker still
    holds, else loaded (and verified) from the store; made known to the run as that artifact,
    so lineage and cache keys are a local run's. An artifact passed as such stays one."""
    (manifest,) = stack.catalog.by_ids([artifact_id])
    artifact = Artifact(manifest, store=stack.store, stack=stack)
    if not held:
        return artifact
    with _held_lock:
        obj = _held.get(artifact_id)
    if obj is None:
        obj = artifact.load()
    if trackable(obj):
        run._produced[id(obj)] = (obj, artifact)
    return obj
