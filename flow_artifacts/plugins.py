"""The plugin manager: built-in plugins and installed ones, found through the same hooks.

Nothing happens at import. `make_plugin_manager()` builds a manager; entry points are loaded there,
once per manager, and `FLOW_ARTIFACTS_DISABLE_PLUGINS` (a comma-separated list) blocks plugins by
name.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError
from .materializers.registry import MaterializerRegistry
from .stores.backend import StoreBackendRegistry

ENTRY_POINT_GROUP = "flow_artifacts"
DISABLE_ENV = "FLOW_ARTIFACTS_DISABLE_PLUGINS"

DEFAULT_PLUGINS = (
    "flow_artifacts.materializers.pandas_parquet",
    "flow_artifacts.materializers.arrow_parquet",
    "flow_artifacts.materializers.numpy_npy",
    "flow_artifacts.materializers.json_report",
    "flow_artifacts.materializers.bytes_blob",
    "flow_artifacts.materializers.figure_png",
    "flow_artifacts.materializers.path_copy",
    "flow_artifacts.materializers.cloudpickle_object",
    "flow_artifacts.stores.builtin_backends",
)


@dataclass(frozen=True)
class PluginInfo:
    name: str
    builtin: bool
    blocked: bool
    distribution: str | None = None
    version: str | None = None


def blocked_from_env() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def short_name(module_name: str) -> str:
    """The name a built-in plugin is known (and blocked) by: its module's last part."""
    return module_name.rpartition(".")[2]


def make_plugin_manager(
    *, blocked: Iterable[str] | None = None, load_entry_points: bool = True
) -> pluggy.PluginManager:
    """A new manager with the built-in plugins and, unless told not to, installed entry points."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name in blocked_from_env() if blocked is None else set(blocked):
        pm.set_blocked(name)
    for module_name in DEFAULT_PLUGINS:
        name = short_name(module_name)
        if not pm.is_blocked(name):
            pm.register(importlib.import_module(module_name), name=name)
    if load_entry_points:
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception as exc:  # a broken third-party plugin must say who it is
            raise PluginError(
                f"loading a plugin from entry-point group {ENTRY_POINT_GROUP!r} failed: {exc}. "
                f"Block it with {DISABLE_ENV}=<name> or reinstall it."
            ) from exc
    pm.check_pending()
    return pm


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Every plugin the manager knows, built-in or installed, with the blocked ones."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    infos = []
    for name, plugin in pm.list_name_plugin():
        dist = dists.get(id(plugin)) if plugin is not None else None
        infos.append(
            PluginInfo(
                name=name,
                builtin=plugin is not None and getattr(plugin, "__name__", "") in DEFAULT_PLUGINS,
                blocked=plugin is None,
                distribution=dist.project_name if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
        )
    return sorted(infos, key=lambda info: (not info.builtin, info.name))


class PluginHost:
    """Typed access to what the plugins registered; built lazily from one plugin manager."""

    def __init__(self, pm: pluggy.PluginManager | None = None) -> None:
        self.pm = pm if pm is not None else make_plugin_manager()

    @functools.cached_property
    def materializers(self) -> MaterializerRegistry:
        registry = MaterializerRegistry(choose_hook=self._choose_materializer)
        self._collect("register_materializers", registry.register)
        return registry

    @functools.cached_property
    def store_backends(self) -> StoreBackendRegistry:
        registry = StoreBackendRegistry()
        self._collect("register_store_backends", registry.register)
        return registry

    @functools.cached_property
    def executors(self) -> dict[str, Any]:
        """Factories of the engines plugins registered, by name (see `steps/executors.py`)."""
        found: dict[str, Any] = {}

        def register(name: str, factory: Any, *, plugin: str) -> None:
            if name in found or name in ("dask", "ray"):
                raise PluginError(f"plugin {plugin!r} registers executor {name!r}, already taken")
            found[name] = factory

        self._collect("register_executors", register)
        return found

    def ambient_run(self) -> Any:
        """The `Run` of the framework executing this code (see the `ambient_run` hook), or None."""
        return self.pm.hook.ambient_run()

    def describe(self) -> list[PluginInfo]:
        return describe_plugins(self.pm)

    def _choose_materializer(self, obj: Any, candidates: list[str]) -> str | None:
        picked: str | None = self.pm.hook.choose_materializer(obj=obj, candidates=candidates)
        return picked

    def _collect(self, hook_name: str, register: Any) -> None:
        """Call each implementation with a `register` that knows which plugin is calling."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            impl.function(register=functools.partial(register, plugin=impl.plugin_name))


@functools.lru_cache(maxsize=1)
def default_plugin_host() -> PluginHost:
    """The process-wide host, made on first use (not at import) from the environment."""
    return PluginHost()
