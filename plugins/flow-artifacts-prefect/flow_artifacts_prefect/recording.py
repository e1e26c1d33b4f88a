"""`flow` and `task`: Prefect's decorators, with the flow run recorded as a flow_artifacts run and
each task run as a step run of it whose return value is stored as an artifact.

The flow's body runs inside `fa.Run(run_id=<flow run id>)`, so `@step` functions called in the
flow or its tasks record into it too (Prefect copies the context into task threads).
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
from collections.abc import Callable
from typing import Any

import prefect
from prefect.context import FlowRunContext, TaskRunContext

import flow_artifacts as fa

log = logging.getLogger("flow_artifacts_prefect")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def flow(
    fn: Callable[..., Any] | None = None,
    *,
    project: str | None = None,
    stack: fa.Stack | str | None = None,
    **options: Any,
) -> Any:
    """`prefect.flow` (same options), whose runs are flow_artifacts runs with the flow run's id
    and name, the flow's name as pipeline, and its final status."""

    def decorate(func: Callable[..., Any]) -> Any:
        _refuse_async(func)

        @functools.wraps(func)
        def body(*args: Any, **kwargs: Any) -> Any:
            context = FlowRunContext.get()
            if context is None or context.flow_run is None:
                return func(*args, **kwargs)
            with fa.Run(
                project=project,
                name=context.flow_run.name,
                pipeline=safe_name(context.flow.name),
                run_id=str(context.flow_run.id),
                stack=stack,
            ):
                return func(*args, **kwargs)

        return prefect.flow(body, **options)

    return decorate(fn) if fn is not None else decorate


def task(
    fn: Callable[..., Any] | None = None,
    *,
    output: str | None = None,
    materializer: str | None = None,
    **options: Any,
) -> Any:
    """`prefect.task` (same options), whose runs inside a recorded flow are step runs named after
    the task run, with its parameters; a returned value other than None is stored as the
    artifact `output` (default: the task's name) and announced as a Prefect link artifact.

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
            )
            try:
                for key, value in bound.arguments.items():
                    if isinstance(value, fa.Artifact):
                        bound.arguments[key] = value.load()
                result = func(*bound.args, **bound.kwargs)
                if result is not None:
                    artifact = run.save_output(step, result, name, materializer=materializer)
                    announce(artifact)
            except BaseException as exc:
                run.finish_step(step, exc)
                raise
            run.finish_step(step)
            return result

        return prefect.task(body, **options)

    return decorate(fn) if fn is not None else decorate


def announce(artifact: fa.Artifact) -> None:
    """A Prefect link artifact for `artifact`, shown in the UI; a failure is only logged."""
    try:
        prefect.artifacts.create_link_artifact(
            link=artifact.path,
            link_text=artifact.uri,
            key=_artifact_key(artifact.name),
            description=f"{artifact.uri}, {artifact.materializer}, sha256 {artifact.checksum}",
        )
    except Exception as exc:  # the artifact is committed; the UI link is a courtesy
        log.warning("could not announce %s to Prefect: %s", artifact.uri, exc)


def safe_name(text: str) -> str:
    """A Prefect name (task run `train-a1b`, flow `my flow`) as a flow_artifacts name."""
    cleaned = _UNSAFE.sub("_", text).replace("..", "_").lstrip(".")
    return cleaned[:200] or "_"


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
