"""`flow` and `task`: Prefect's decorators, recorded.

Every Prefect flow run that calls a `@step` or a `task` of this package is a flow_artifacts run
(see `flow_runs`); `flow` only chooses its project and stack and opens it at the flow's start.
A `task` run is a step run whose return value is stored as an artifact.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
from collections.abc import Callable
from typing import Any

import prefect
from prefect.context import TaskRunContext

import flow_artifacts as fa

from .flow_runs import PROJECT_ATTRIBUTE, STACK_ATTRIBUTE, FlowRun, current_flow_run, safe_name
from .shipping import FlowStack

log = logging.getLogger("flow_artifacts_prefect")


def flow(
    fn: Callable[..., Any] | None = None,
    *,
    project: str | None = None,
    stack: fa.Stack | str | None = None,
    **options: Any,
) -> Any:
    """`prefect.flow` (same options), whose runs record into `project` on `stack` (default: the
    active stack and its project), from the flow's start, even when no step runs; a task
    runner's workers record into them too (the stack travels as its definition: `shipping`)."""
    given = FlowStack(stack)  # the body holds this, never the stack: Prefect pickles the body

    def decorate(func: Callable[..., Any]) -> Any:
        _refuse_async(func)

        @functools.wraps(func)
        def body(*args: Any, **kwargs: Any) -> Any:
            current_flow_run(project, given.stack)
            return func(*args, **kwargs)

        setattr(body, PROJECT_ATTRIBUTE, project)  # both travel with the flow to workers
        setattr(body, STACK_ATTRIBUTE, given)
        return prefect.flow(body, **options)

    return decorate(fn) if fn is not None else decorate


def task(
    fn: Callable[..., Any] | None = None,
    *,
    output: str | None = None,
    materializer: str | None = None,
    **options: Any,
) -> Any:
    """`prefect.task` (same options), whose runs inside a flow run are step runs with the task
    run's name, id and parameters; a returned value other than None is stored as the artifact
    `output` (default: the task's name) and announced as a Prefect link artifact.

    Arguments that are artifacts are loaded for the function and, like values another recorded
    task returned in this flow run, recorded as the step run's inputs (its lineage)."""

    def decorate(func: Callable[..., Any]) -> Any:
        _refuse_async(func)
        signature = inspect.signature(func)
        name = safe_name(output or func.__name__)

        @functools.wraps(func)
        def body(*args: Any, **kwargs: Any) -> Any:
            run, context = fa.current_run(), TaskRunContext.get()
            if run is None or not run.recording or context is None:
                return func(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            inputs = [_artifact_of(run, value) for value in bound.arguments.values()]
            params = {
                key: value
                for key, value in bound.arguments.items()
                if not isinstance(value, fa.Artifact) and run.producer_of(value) is None
            }
            step = run.start_step(
                safe_name(context.task_run.name),
                params=params,
                inputs=[a for a in inputs if a is not None],
                step_run_id=str(context.task_run.id),
            )
            try:
                for key, value in bound.arguments.items():
                    if isinstance(value, fa.Artifact):
                        bound.arguments[key] = value.load()
                result = func(*bound.args, **bound.kwargs)
                if result is not None:
                    artifact = run.save_output(step, result, name, materializer=materializer)
                    announce(run, artifact)
            except BaseException as exc:
                run.finish_step(step, exc)
                raise
            run.finish_step(step)
            return result

        return prefect.task(body, **options)

    return decorate(fn) if fn is not None else decorate


def announce(run: fa.Run, artifact: fa.Artifact) -> None:
    """A Prefect link artifact for `artifact`, shown in the UI. In a flow run's run it is sent
    from a worker thread (in this task's context), so the task goes on while Prefect's API
    answers; the flow run's end waits for it (`FlowRun.announced`)."""
    if isinstance(run, FlowRun):
        run.announce(functools.partial(_announce_now, artifact))
    else:
        _announce_now(artifact)


def _announce_now(artifact: fa.Artifact) -> None:
    """Create the link artifact; a failure is only logged."""
    try:
        prefect.artifacts.create_link_artifact(
            link=artifact.path,
            link_text=artifact.uri,
            key=_artifact_key(artifact.name),
            description=f"{artifact.uri}, {artifact.materializer}, {artifact.checksum}",
        )
    except Exception as exc:  # the artifact is committed; the UI link is a courtesy
        log.warning("could not announce %s to Prefect: %s", artifact.uri, exc)


def _artifact_key(name: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:100] or "artifact"


def _artifact_of(run: fa.Run, value: Any) -> fa.Artifact | None:
    return value if isinstance(value, fa.Artifact) else run.producer_of(value)


def _refuse_async(func: Callable[..., Any]) -> None:
    if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
        raise fa.ConfigError(
            f"{func.__qualname__} is async; flow_artifacts_prefect records synchronous "
            "flows and tasks only"
        )
