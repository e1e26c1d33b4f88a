"""What a step's task carries, and what a worker does with it.

A worker opens the run's stack from its spec, loads the step's inputs from the store, verified,
or takes an object it produced itself and still holds, runs the step exactly as a local call
does, commits its outputs, and returns their artifact ids.

A step whose worker was lost is run again by the engine. The new attempt finds its step run
still open, records it as attempt n+1, and keeps the outputs the lost attempt had committed
(a commit happens whole or leaves no trace), so no key is written twice.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..artifact import Artifact
from .context import Run, _current, log
from .outputs import Outputs
from .stack_spec import StackSpec
from .tracking import trackable

if TYPE_CHECKING:
    from ..stack import Stack
    from .decorator import Step

HELD_OBJECTS = 8
"""Outputs a worker process keeps, by artifact id, for a later step it runs to take as they are."""


@dataclass(frozen=True)
class Upstream:
    """An argument that is the output `output` (all of them when None) of dependency `index`."""

    index: int
    output: str | None


@dataclass(frozen=True)
class Stored:
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


_held: collections.OrderedDict[str, Any] = collections.OrderedDict()
_held_lock = threading.Lock()


def run_task(task: StepTask, *upstream: TaskResult) -> TaskResult:
    """Run one step on a worker, as a local call in the run would, and return references."""
    from .execute import call_in_run

    stack = task.stack.opened()
    run = Run(project=task.project, pipeline=task.pipeline, cache=task.cache, run_id=task.run_id)
    run.stack, run.recording, run.status = stack, True, "running"
    earlier = stack.catalog.step_run_named(task.project, task.run_id, task.step_run)
    if earlier is not None and earlier.status == "completed":  # lost after it finished
        manifests = stack.catalog.by_ids(earlier.outputs)
        outputs = tuple((m.name, m.id) for m in manifests)
        return TaskResult(earlier.id, outputs, task.step.several_outputs)
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


def _materialize(value: Any, run: Run, stack: Stack, upstream: tuple[TaskResult, ...]) -> Any:
    if isinstance(value, Upstream):
        done = upstream[value.index]
        names = dict(done.outputs)
        if value.output is not None:
            return _input(names[value.output], run, stack)
        if not done.outputs:
            return None
        if not done.several:
            return _input(done.outputs[0][1], run, stack)
        return Outputs(names, (_input(i, run, stack) for i in names.values()))
    if isinstance(value, Stored):
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
