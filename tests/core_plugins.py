"""Small plugins used by the core tests: each one is what a third-party plugin would register."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import flow_artifacts as fa
from flow_artifacts.materializers.base import ArtifactKind, Materializer
from flow_artifacts.plugins import PluginHost, make_plugin_manager
from flow_artifacts.steps.executors import Executor


class DiskFull(Exception):
    """What a materializer's save raises part-way through, as a full disk would."""


class PartialWriteMaterializer(Materializer):
    """Writes some bytes, then fails: the store must leave nothing behind."""

    id = "tests.partial"
    handles = ()
    extension = ".bin"

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        with fs.open(path, "wb") as f:
            f.write(b"the first half of an artifact")
            raise DiskFull("no space left halfway through")

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        raise AssertionError("a failed save must never be loaded")


class CsvMaterializer(Materializer):
    """Handles no type by itself: it is picked only by id or by a `choose_materializer` hook."""

    id = "tests.csv"
    handles = ()
    extension = ".csv"
    mime_type = "text/csv"
    kind = ArtifactKind.DATASET

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        with fs.open(path, "wb") as f:
            f.write(obj.to_csv(index=False).encode())
        return {"rows": len(obj)}

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        import pandas as pd

        return pd.read_csv(io.BytesIO(fs.cat_file(path)))


def materializer_for(mid: str, *types: str | type) -> type[Materializer]:
    """A minimal materializer class with id `mid` claiming `types`."""

    class Claiming(Materializer):
        id = mid
        handles = types

        def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
            fs.pipe_file(path, b"claimed")
            return {}

        def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
            return fs.cat_file(path)

    return Claiming


class RegisterPlugin:
    """A plugin whose `register_materializers` registers the given classes."""

    def __init__(self, *materializers: type[Materializer]) -> None:
        self.materializers = materializers

    @fa.hookimpl
    def register_materializers(self, register: Callable[[type[Materializer]], None]) -> None:
        for materializer in self.materializers:
            register(materializer)


class CsvWhenAskedPlugin:
    """Routes DataFrames whose `attrs["format"]` is "csv" to `tests.csv`; records what it saw."""

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    @fa.hookimpl
    def register_materializers(self, register: Callable[[type[Materializer]], None]) -> None:
        register(CsvMaterializer)

    @fa.hookimpl
    def choose_materializer(self, obj: Any, candidates: list[str]) -> str | None:
        self.seen.append(list(candidates))
        attrs = getattr(obj, "attrs", None)
        return "tests.csv" if isinstance(attrs, dict) and attrs.get("format") == "csv" else None


class StoreBackendPlugin:
    """A plugin whose `register_store_backends` describes one more fsspec protocol family."""

    def __init__(self, backend: fa.StoreBackend) -> None:
        self.backend = backend

    @fa.hookimpl
    def register_store_backends(self, register: Callable[[fa.StoreBackend], None]) -> None:
        register(self.backend)


class RecordingExecutor(Executor):
    """An engine a plugin provides: runs tasks on an inner executor, and keeps the pickled
    form of everything submitted, as the task graph would carry it."""

    name = "recording"

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.payloads: list[bytes] = []

    def submit(self, fn: Callable[..., Any], args: Sequence[Any], *, key: str) -> Any:
        import cloudpickle

        self.payloads.append(cloudpickle.dumps((fn, [a for a in args if not _future(a)])))
        return self.inner.submit(fn, args, key=key)

    def result(self, future: Any) -> Any:
        return self.inner.result(future)

    def cancel(self, futures: Sequence[Any]) -> None:
        self.inner.cancel(futures)

    def hosts(self) -> set[str]:
        return self.inner.hosts()


def _future(value: Any) -> bool:
    return type(value).__name__ in ("Future", "ObjectRef")


class ExecutorPlugin:
    """A plugin whose `register_executors` offers one engine by name."""

    def __init__(self, name: str, factory: Callable[[], Executor]) -> None:
        self.name, self.factory = name, factory

    @fa.hookimpl
    def register_executors(self, register: Callable[[str, Callable[[], Executor]], None]) -> None:
        register(self.name, self.factory)


class AmbientRunPlugin:
    """A framework's plugin: `run` is the run its code executes in, for steps outside any."""

    def __init__(self, run: fa.Run | None) -> None:
        self.run = run

    @fa.hookimpl
    def ambient_run(self) -> fa.Run | None:
        return self.run


def host_with(**plugins: object) -> PluginHost:
    """A fresh host with the built-ins plus `plugins` (by name), without installed entry points."""
    pm = make_plugin_manager(load_entry_points=False)
    for name, plugin in plugins.items():
        pm.register(plugin, name=name)
    return PluginHost(pm)


class UnserializableMetadataMaterializer(Materializer):
    """Returns metadata JSON cannot hold; the store must refuse it before publishing anything."""

    id = "tests.bad-metadata"
    handles = ()
    extension = ".bin"

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        import datetime as dt

        fs.pipe_file(path, b"payload")
        return {"written_at": dt.datetime(2024, 1, 1)}

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        return fs.cat_file(path)


class OversizedMetadataMaterializer(Materializer):
    """Records its whole payload as metadata; the store must refuse it, leaving nothing."""

    id = "tests.oversized-metadata"
    handles = ()
    extension = ".bin"

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        fs.pipe_file(path, obj)
        return {"everything": obj.decode()}

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        return fs.cat_file(path)
