"""The hooks a plugin can implement. Built-in materializers and stores use these same hooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .materializers.base import Materializer
    from .steps.context import Run
    from .stores.backend import StoreBackend

PROJECT_NAME = "flow_artifacts"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_materializers(register: Callable[[type[Materializer]], None]) -> None:
    """Call `register(MaterializerClass)` once per materializer; every implementation is called."""


@hookspec
def register_store_backends(register: Callable[[StoreBackend], None]) -> None:
    """Call `register(StoreBackend(...))` to describe fsspec protocols.

    Every implementation is called."""


@hookspec(firstresult=True)
def choose_materializer(obj: Any, candidates: list[str]) -> str | None:
    """Return a materializer id to use for `obj` instead of the default dispatch.

    `candidates` are the ids registered for a type in `obj`'s MRO. Stops at the first non-None
    result.
    """


@hookspec
def register_executors(register: Callable[[str, Callable[[], Any]], None]) -> None:
    """Call `register(name, factory)` to offer an engine steps can run on: `factory()` returns
    an `flow_artifacts.steps.executors.Executor`, made when a run names the engine
    (`executor="name"`). Every implementation is called."""


@hookspec(firstresult=True)
def ambient_run() -> Run | None:
    """The run of the framework executing this code, for a step called outside any `fa.run`:
    a Prefect plugin returns the `Run` of the current Prefect flow run (opened on first use,
    ended by the plugin when the flow run ends). Called on each such step call, so it must be
    cheap and import nothing heavy when its framework is not running. Stops at the first
    non-None result."""
