"""The stack a `flow` was given, as it travels to a task runner's workers.

Prefect sends the flow (and so its function, which holds a `FlowStack`) with every task a Dask or
Ray task runner runs in another process. What travels is the stack's definition
(`fa.StackSpec`: a stack file's path and name, or the settings of a stack without secrets),
never the stack object, its secrets or its open engines; a worker opens it once. A stack that
workers cannot use travels as the reason, and a step in a worker fails with it rather than
recording into the worker's own stack: one that holds secrets in code or lives in memory, or a
SQLite catalog reached from another machine (where that file is not shared safely).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

import flow_artifacts as fa


@dataclass(frozen=True)
class Shipped:
    """What a worker gets: the stack's spec, or why it has none; for a SQLite catalog, the
    machine whose file it is."""

    spec: fa.StackSpec | None
    refusal: str | None = None
    sqlite_host: str | None = None

    def open(self) -> fa.Stack:
        """The stack, opened once in this worker process; `ConfigError` if it cannot be used."""
        if self.spec is None:
            raise fa.ConfigError(
                f"the task runner's workers cannot use this flow's stack: {self.refusal}"
            )
        if self.sqlite_host is not None and self.sqlite_host != socket.gethostname():
            raise fa.ConfigError(
                f"the task runner's workers cannot use this flow's stack: its catalog is a SQLite "
                f"file on {self.sqlite_host}, and this worker runs on {socket.gethostname()}, "
                "where that file is not shared safely; use PostgreSQL "
                "(catalog: {url: postgresql+psycopg://...}), or workers on that machine only"
            )
        return self.spec.opened()


class FlowStack:
    """The stack of a `flow` (None: the active one). Pickled, it becomes its `Shipped` form;
    `in_worker` is what a task run in another process or thread records into."""

    def __init__(self, stack: fa.Stack | str | None) -> None:
        self.stack = stack
        self._lock = threading.Lock()
        self._shipped: tuple[fa.Stack, Shipped] | None = None

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        if self.stack is None:
            return FlowStack, (None,)
        return _WorkerStack, (self._shipping(),)

    def _shipping(self) -> Shipped:
        """The stack's `Shipped` form, made once per stack (a stack file changed: again)."""
        try:
            with fa.use_stack(self.stack) as stack:  # a file spec resolves here, not in a worker
                pass
        except fa.ConfigError as unreadable:  # a step in a worker says it; pickling goes on
            return Shipped(None, str(unreadable))
        with self._lock:
            if self._shipped is None or self._shipped[0] is not stack:
                try:
                    spec = fa.StackSpec.for_workers(stack)
                except fa.ConfigError as refused:
                    shipped = Shipped(None, str(refused))
                else:
                    sqlite = stack.catalog.backend == "sqlite"
                    shipped = Shipped(spec, None, socket.gethostname() if sqlite else None)
                self._shipped = (stack, shipped)
            return self._shipped[1]

    def in_worker(self) -> fa.Stack | str | None:
        """The stack a task runner's worker records into (None: its active one). Not pickled,
        the worker is a thread of the flow's own process: the stack given."""
        return self.stack


class _WorkerStack(FlowStack):
    """A `FlowStack` unpickled in a worker: its `Shipped` form."""

    def __init__(self, shipped: Shipped) -> None:
        super().__init__(None)
        self.shipped = shipped

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return _WorkerStack, (self.shipped,)

    def in_worker(self) -> fa.Stack:
        return self.shipped.open()
