"""A Prefect flow run as a flow_artifacts run: opened when the first step (or recorded task) of
the flow run asks for it, ended by Prefect's own end-of-run hooks.

The run's end is the flow run's final state, which only Prefect knows: its engine calls the
flow's `on_completion`, `on_failure`, `on_crashed` and `on_cancellation` hooks with the flow run
and that state. The first run of a flow that records anything adds `end_of_flow_run` to those
hooks of its `Flow` object, once (as new lists); for a flow run that opened no run it does
nothing, so later and concurrent runs of the flow are unchanged. A process that dies before the
final state leaves the run `running` until its heartbeat lapses; it then reads as `crashed`.

A flow run retried or resumed in a new process (`prefect flow-run retry`, a worker resuming a
suspended run) goes on in its run (`Run.start(resume=True)`). A task that a Dask or Ray task
runner sends to another process runs there in a `detached` copy of the flow run's context: it
joins the flow run's run (`Run.join`), whose end only the flow's process sees. Its step runs are
named as in the flow's process (`add`, then `add_2`), each name checked against those the other
processes recorded (the catalog refuses a second step run of one name in a run).
"""

from __future__ import annotations

import contextvars
import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from prefect.context import FlowRunContext, TaskRunContext

import flow_artifacts as fa

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
_HOOKS = ("on_completion_hooks", "on_failure_hooks", "on_crashed_hooks", "on_cancellation_hooks")
_ANNOUNCE_SECONDS = 60
_MAX_JOINED = 32
PROJECT_ATTRIBUTE = "flow_artifacts_project"
"""Set on a `flow_artifacts_prefect.flow`'s function: its project, which travels with the flow
(and its copies, `with_options`) to a task runner's workers."""
STACK_ATTRIBUTE = "flow_artifacts_stack"
"""Set on a `flow_artifacts_prefect.flow`'s function: its `shipping.FlowStack`, which travels
likewise."""
_lock = threading.Lock()
_open: dict[str, FlowRun] = {}
_joined: OrderedDict[str, FlowRun] = OrderedDict()
"""The runs that task runs in this process (a task runner's worker) joined, by task run id."""


class FlowRun(fa.Run):
    """The run of one Prefect flow run: its id, name, and the flow's name as pipeline. A `@step`
    that is a task's own function (`@task` over `@step`) is recorded as that task run: named
    after it, with its id."""

    def __init__(self, context: Any, project: str | None, stack: Any, task_run: Any = None) -> None:
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
        self._task_run = task_run
        """The task run that joined this run in a task runner's worker; None in the flow's."""
        self._bases: dict[str, str] = {}
        """A worker's claimed step-run names -> the name they were claimed for."""

    def claim_name(self, step_name: str) -> str:
        """In a worker, a name no other process recorded in the run yet (see the module's
        docstring)."""
        name = super().claim_name(step_name)
        if self._task_run is not None and self.recording:
            stack, project = self._recording_stack()
            while stack.catalog.step_run_named(project, self.id, name) is not None:
                name = super().claim_name(step_name)
            self._bases[name] = step_name
        return name

    def open_step_run(self, record: fa.StepRun, inputs: list[str]) -> dict[str, fa.Artifact]:
        """In a worker, a name another process took since `claim_name` is claimed again."""
        while True:
            try:
                return super().open_step_run(record, inputs)
            except Exception:
                base = self._bases.get(record.name)
                stack, project = self._recording_stack()
                if (
                    base is None
                    or stack.catalog.step_run_named(project, self.id, record.name) is None
                ):
                    raise
                record.name = self.claim_name(base)

    def announce(self, send: Callable[[], None]) -> None:
        """Run `send` (a call to Prefect's API) in a worker thread, in the caller's context; in
        a task runner's worker, at once (no end of the flow run waits for it there)."""
        if self._task_run is not None:
            send()
            return
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
    `stack`, default: the active stack and its project); None outside a flow run. In a process
    a task runner sent a task to (a `detached` context), the run that task run joined."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None or context.flow is None:
        return None
    key = str(context.flow_run.id)
    with _lock:
        run = _open.get(key)
        if run is None and context.detached:
            return _joined_run(context)
        if run is None:
            run = FlowRun(context, project, stack)
            run.start(resume=True)  # a flow run retried or resumed here goes on in its run
            _open[key] = run
            _watch(context.flow)
    return run


def _joined_run(context: Any) -> FlowRun:
    """The run the task run executing here joined (called with `_lock` held): of the flow's
    project (`PROJECT_ATTRIBUTE`, else the stack's), on the flow's stack (`STACK_ATTRIBUTE`,
    else this process's active stack)."""
    task_context = TaskRunContext.get()
    task_run = task_context.task_run if task_context is not None else None
    key = str(task_run.id) if task_run is not None else str(context.flow_run.id)
    run = _joined.get(key)
    if run is None:
        given = getattr(context.flow.fn, STACK_ATTRIBUTE, None)
        stack = given.in_worker() if given is not None else None
        project = getattr(context.flow.fn, PROJECT_ATTRIBUTE, None)
        run = FlowRun(context, project, stack, task_run)
        run.join()
        _joined[key] = run
        while len(_joined) > _MAX_JOINED:  # a worker outlives its task runs
            _joined.popitem(last=False)
    _joined.move_to_end(key)
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
