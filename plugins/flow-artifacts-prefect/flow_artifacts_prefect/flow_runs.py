"""A Prefect flow run as a flow_artifacts run: opened when the first step (or recorded task) of
the flow run asks for it, ended by Prefect's own end-of-run hooks.

The run's end is the flow run's final state, which only Prefect knows: its engine calls the
flow's `on_completion`, `on_failure`, `on_crashed` and `on_cancellation` hooks with the flow run
and that state. The first run of a flow that records anything adds `end_of_flow_run` to those
hooks of its `Flow` object, once (as new lists); for a flow run that opened no run it does
nothing, so later and concurrent runs of the flow are unchanged. A process that dies before the
final state leaves the run `running` until its heartbeat lapses; it then reads as `crashed`.
"""

from __future__ import annotations

import contextvars
import functools
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from prefect.context import FlowRunContext, TaskRunContext

import flow_artifacts as fa

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
_HOOKS = ("on_completion_hooks", "on_failure_hooks", "on_crashed_hooks", "on_cancellation_hooks")
_ANNOUNCE_SECONDS = 60
_lock = threading.Lock()
_open: dict[str, FlowRun] = {}


class FlowRun(fa.Run):
    """The run of one Prefect flow run: its id, name, and the flow's name as pipeline. A `@step`
    that is a task's own function (`@task` over `@step`) is recorded as that task run: named
    after it, with its id."""

    def __init__(self, context: Any, project: str | None, stack: Any) -> None:
        super().__init__(
            project=project,
            # a `flow_run_name` template may make any text: cut to what a run name holds
            name=context.flow_run.name.replace("\x00", "")[:200],
            pipeline=safe_name(context.flow.name),
            run_id=str(context.flow_run.id),
            stack=stack,
        )
        self._announcing: list[Future[None]] = []
        self._announcing_lock = threading.Lock()

    def announce(self, send: Callable[[], None]) -> None:
        """Run `send` (a call to Prefect's API) in a worker thread, in the caller's context."""
        future = _announcer().submit(contextvars.copy_context().run, send)
        with self._announcing_lock:
            self._announcing.append(future)

    def announced(self) -> None:
        """Wait for the announcements sent so far (bounded: a hung API loses a link only)."""
        with self._announcing_lock:
            pending, self._announcing = self._announcing, []
        wait(pending, timeout=_ANNOUNCE_SECONDS)

    def framework_task(self, step: fa.Step) -> tuple[str, str] | None:
        context = TaskRunContext.get()
        if context is None or context.task.fn is not step:
            return None
        return safe_name(context.task_run.name), str(context.task_run.id)


def current_flow_run(project: str | None = None, stack: Any = None) -> FlowRun | None:
    """The run of the Prefect flow run executing here, opened on first use (with `project` and
    `stack`, default: the active stack and its project); None outside a flow run, and in a
    process a task runner sent the flow run's context to (`detached`), which never sees the
    flow run end."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None or context.flow is None or context.detached:
        return None
    key = str(context.flow_run.id)
    with _lock:
        run = _open.get(key)
        if run is None:
            run = FlowRun(context, project, stack)
            run.start(resume=True)  # a flow run retried or resumed here goes on in its run
            _open[key] = run
            _watch(context.flow)
    return run


def end_of_flow_run(flow: Any, flow_run: Any, state: Any) -> None:
    """A Prefect state hook: the flow run reached `state`; its run (if it opened one) ends
    `completed`, or `failed` with the state's name and message."""
    with _lock:
        run = _open.pop(str(flow_run.id), None)
    if run is None:
        return
    run.announced()
    run.finish(None if state.is_completed() else f"{state.name}: {state.message or ''}")


def safe_name(text: str) -> str:
    """A Prefect name (task run `train-a1b`, flow `my flow`) as a flow_artifacts name."""
    cleaned = _UNSAFE.sub("_", text).replace("..", "_").lstrip(".")
    return cleaned[:200] or "_"


def _watch(flow: Any) -> None:
    """Add `end_of_flow_run` to the flow's end-of-run hooks, once, as new lists: a hook list the
    user passed to several flows stays theirs."""
    for attribute in _HOOKS:
        hooks = getattr(flow, attribute)
        if end_of_flow_run not in hooks:
            setattr(flow, attribute, [*hooks, end_of_flow_run])


@functools.lru_cache(maxsize=1)
def _announcer() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="flow-artifacts-prefect")
