"""The driver's side of a run with an executor: steps submitted as tasks, joined at the end.

Only references cross the network. The driver claims each step-run name in call order (so names
are those of a local run), replaces handles and artifacts in the arguments by placeholders, and
submits the step with its stack as configuration (`stack_spec`); `distributed_worker` is what
runs on the other side.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..artifact import Artifact
from ..errors import ConfigError
from .context import Run
from .distributed_worker import StepTask, Stored, TaskResult, Upstream, run_task
from .outputs import Outputs
from .stack_spec import StackSpec
from .step_run import StepRun

if TYPE_CHECKING:
    from ..manifest import Manifest
    from .decorator import Step
    from .executors import Executor

MAX_DEPTH = 20
"""How deep in nested lists, tuples and dicts the arguments are searched for handles."""


def submit(run: Run, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> StepHandle:
    """Submit a step of a run with an executor; at the run's first step, check its stack."""
    if run.submissions is None:
        from .executors import resolve_executor

        assert run.stack is not None and run.executor is not None
        engine = resolve_executor(run.executor, run.stack.plugins)
        run.submissions = Submissions(run, engine, StackSpec.for_workers(run.stack, engine))
    return run.submissions.submit(step, args, kwargs)


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

    def artifacts_of(
        self, done: TaskResult, manifests: dict[str, Manifest] | None = None
    ) -> dict[str, Artifact]:
        """The outputs of a finished step, from `manifests` when the caller read them all."""
        stack = self.run.stack
        assert stack is not None
        if manifests is None:
            manifests = self._manifests([i for _, i in done.outputs])
        return {
            name: Artifact(manifests[i], store=stack.store, stack=stack) for name, i in done.outputs
        }

    def _manifests(self, ids: Sequence[str]) -> dict[str, Manifest]:
        assert self.run.stack is not None
        return {m.id: m for m in self.run.stack.catalog.by_ids(list(dict.fromkeys(ids)))}

    def join(self) -> None:
        """Wait for every step: all at once while none fails; at a failure, step by step in call
        order, cancelling what has not run at the first one and re-raising it. The run's `steps`
        and `artifacts` are then filled in call order."""
        pending = [e for e in self.entries if e.outcome is None and e.error is None]
        try:
            outcomes = self.executor.results([e.future for e in pending])
        except Exception:  # a step failed, or the engine did: found in call order below
            pass
        except BaseException:  # the driver is interrupted
            self.abandon()
            raise
        else:
            if len(outcomes) != len(pending):
                raise ConfigError(
                    f"executor {self.executor.name!r} returned {len(outcomes)} results for "
                    f"{len(pending)} tasks; its `results` must return one for each future"
                )
            for entry, outcome in zip(pending, outcomes, strict=True):
                entry.outcome = outcome
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
        outputs = [i for e in self.entries if e.outcome is not None for _, i in e.outcome.outputs]
        manifests = self._manifests([*(i for r in recorded.values() for i in r.inputs), *outputs])
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
                    Artifact(manifests[i], store=stack.store, stack=stack)
                    for i in record.inputs
                    if i in manifests
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
                for name, artifact in self.artifacts_of(entry.outcome, manifests).items():
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
        return Upstream(len(futures) - 1, output)
    if isinstance(value, Artifact):
        return Stored(value.id)
    if depth >= MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {k: _placeholders(v, futures, subs, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v, futures, subs, depth + 1) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_make"):
        return tuple(_placeholders(v, futures, subs, depth + 1) for v in value)
    return value
