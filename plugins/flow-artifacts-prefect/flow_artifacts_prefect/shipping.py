"""The stack a `flow` was given, as it travels to a task runner's workers.

Prefect sends the flow (and so its function, which holds a `FlowStack`) with every task a Dask or
Ray task runner runs in another process. What travels is the stack's definition
(`fa.StackSpec`: a stack file's path and name, or the settings of a stack without secrets),
never the stack object, its secrets or its open engines; a worker opens it once. A stack that
workers cannot reach or that holds secrets travels as the reason it cannot, and a worker step
fails with it, rather than recording into the worker's own stack.
"""

from __future__ import annotations

import threading
from typing import Any

import flow_artifacts as fa


class FlowStack:
    """The stack of a `flow` (None: the active one). In the flow's process it is the stack given;
    unpickled in a worker, its definition, or the reason it has none."""

    def __init__(self, stack: fa.Stack | str | None) -> None:
        self.stack = stack
        self._lock = threading.Lock()
        self._shipped: tuple[fa.Stack, tuple[Any, ...]] | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        if self.stack is None:
            return FlowStack, (None,)
        return _arrived, self._shipping()

    def _shipping(self) -> tuple[fa.StackSpec | None, str | None]:
        """(spec, None), or (None, why workers cannot open the stack); made once per stack."""
        with fa.use_stack(self.stack) as stack:  # a file spec resolves here, not in the worker
            pass
        with self._lock:
            if self._shipped is None or self._shipped[0] is not stack:
                try:
                    shipped: tuple[Any, ...] = (fa.StackSpec.for_workers(stack), None)
                except fa.ConfigError as refused:
                    shipped = (None, str(refused))
                self._shipped = (stack, shipped)
            return self._shipped[1]  # type: ignore[return-value]

    def in_worker(self) -> fa.Stack | str | None:
        """The stack a task runner's worker records into (None: its active one). Not pickled,
        the worker is a thread of the flow's own process: the stack given."""
        return self.stack


class _WorkerStack(FlowStack):
    """A `FlowStack` unpickled in a worker: the stack's definition, or why it has none."""

    def __init__(self, spec: fa.StackSpec | None, refusal: str | None) -> None:
        super().__init__(None)
        self._spec, self._refusal = spec, refusal

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _arrived, (self._spec, self._refusal)

    def in_worker(self) -> fa.Stack | None:
        if self._spec is None:
            raise fa.ConfigError(
                f"this flow's stack cannot be used by the task runner's workers: {self._refusal}"
            )
        return self._spec.opened()


def _arrived(spec: fa.StackSpec | None, refusal: str | None) -> _WorkerStack:
    return _WorkerStack(spec, refusal)
