"""A conformance kit: test a plugin's materializer exactly as the built-in ones are tested.

    from flow_artifacts.testing import assert_failure_leaves_nothing, assert_round_trip

    def test_my_format_round_trips():
        assert_round_trip(MyMaterializer, make_object())

    def test_my_format_never_leaves_half_an_artifact():
        assert_failure_leaves_nothing(MyMaterializer, make_object())

Both checks go through a real `ArtifactStore` (a fresh `memory://` one unless a URL is given), so a
materializer passes only if write-once, atomic publish and checksums work for it too. Nothing heavy
is imported here: pandas, numpy and pyarrow are compared only when the object is one of theirs.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .artifact import Artifact
from .errors import MaterializerError
from .hashing import (
    CHECKSUM_ALGORITHM,
    algorithm_of,
    directory_checksum,
    format_checksum,
    hexdigest_of,
)
from .materializers.base import Materializer
from .plugins import PluginHost, make_plugin_manager
from .stores.paths import IDENTITY, RESERVED
from .stores.store import ArtifactStore

MaterializerRef = str | Materializer | type[Materializer]
Equals = Callable[[Any, Any], object]
"""`equals(expected, loaded)`: return False, or raise AssertionError, when they differ.

Returning None counts as equal, so assertion helpers such as `pandas.testing.assert_frame_equal`
can be passed as they are.
"""

TEST_PLUGIN = "flow_artifacts.testing"
INJECTED_MESSAGE = "injected failure in the middle of a write"


class InjectedFailure(Exception):
    """Raised by the kit inside a materializer's write; never raised by real code."""


@dataclasses.dataclass(frozen=True)
class RoundTrip:
    """What a passed round trip produced, for checks of a format's own (metadata, kind, paths)."""

    artifact: Artifact
    loaded: Any


def assert_round_trip(
    materializer: MaterializerRef,
    obj: Any,
    *,
    store_url: str | os.PathLike[str] | None = None,
    equals: Equals | None = None,
    plugins: PluginHost | None = None,
    expect_dispatch: bool = True,
) -> RoundTrip:
    """Save `obj` with `materializer`, load it back, and check everything a user relies on.

    Checked: the default dispatch picks this materializer (unless `expect_dispatch=False`), the
    manifest names it and reads back unchanged, the recorded checksum and size match the stored
    bytes hashed independently here, no temporary file is left, and the loaded object equals
    `obj` (see `default_equals`, or pass `equals`).
    """
    host, mid = _host_with(materializer, plugins)
    if expect_dispatch:
        chosen = host.materializers.choose(obj).id
        assert chosen == mid, f"{_type_name(obj)} dispatches to {chosen!r}, not {mid!r}"
    store = _store(store_url, host)
    artifact = store.materialize(
        obj, "artifact", f"run-{uuid.uuid4().hex}", "test", materializer=mid
    )
    manifest = store.get_manifest(artifact.key)
    assert manifest.to_dict() == artifact.manifest.to_dict(), "manifest changed when read back"
    assert manifest.materializer == mid
    _assert_checksum_matches_bytes(store, artifact)
    leftovers = _temp_files(store)
    assert not leftovers, f"temporary files left in the store: {leftovers}"
    loaded = store.load(artifact)  # read back as written: a pickle is loaded only from a handle
    _assert_equal(obj, loaded, equals)
    return RoundTrip(artifact, loaded)


def assert_failure_leaves_nothing(
    materializer: MaterializerRef,
    obj: Any,
    *,
    store: ArtifactStore | str | os.PathLike[str] | None = None,
    fail_after_bytes: int = 1,
    plugins: PluginHost | None = None,
) -> MaterializerError:
    """Make `materializer`'s save fail after `fail_after_bytes` bytes; check nothing shows.

    The failure is raised from inside a file the materializer is writing, as a full disk or a lost
    connection would. The store must raise `MaterializerError` chaining it, and afterwards hold
    exactly the files it held before: no manifest, no data, no temporary file. Returns the error.
    """
    host, mid = _host_with(materializer, plugins)
    target = store if isinstance(store, ArtifactStore) else _store(store, host)
    failing = _FailingMaterializer(host.materializers.get(mid), fail_after_bytes)
    before = _files(target)
    key = f"failure-{uuid.uuid4().hex}/artifact"
    try:
        manifest = target.write_data(obj, lambda _: failing, key=key, name="artifact")  # type: ignore[arg-type,return-value]
        target.write_manifest(manifest)
    except MaterializerError as exc:
        error = exc
    else:
        raise AssertionError(
            f"{mid!r} saved {_type_name(obj)} although its write failed, or it wrote fewer than "
            f"{fail_after_bytes + 1} bytes through fs.open(path, 'wb')"
        )
    assert _reports_injected_failure(error), f"the error hides the injected failure: {error!r}"
    assert not target.exists(key), f"artifact {key!r} is visible after a failed write"
    after = _files(target)
    assert after == before, f"a failed write left files behind: {sorted(after - before)}"
    return error


def default_equals(expected: Any, loaded: Any) -> None:
    """Strict equality that knows pandas, numpy, pyarrow, polars, dataclasses and paths.

    Dataclasses are saved as their fields, so they compare with `dataclasses.asdict`. A path loads
    as a fresh local copy: every file in it must hold the same bytes as the original.
    """
    if dataclasses.is_dataclass(expected) and not isinstance(expected, type):
        assert loaded == dataclasses.asdict(expected), f"{loaded!r} != asdict({expected!r})"
        return
    module = type(expected).__module__.split(".")[0]
    if module == "pandas":
        testing = sys.modules["pandas"].testing
        check = testing.assert_series_equal if expected.ndim == 1 else testing.assert_frame_equal
        check(loaded, expected, check_exact=True)
        return
    if module == "numpy":
        np = sys.modules["numpy"]
        assert isinstance(loaded, np.ndarray) and loaded.dtype == expected.dtype, repr(loaded)
        np.testing.assert_array_equal(loaded, expected, strict=True)
        return
    if module in ("pyarrow", "polars"):
        assert type(loaded) is type(expected), f"loaded a {_type_name(loaded)}"
        assert loaded.equals(expected), f"{loaded} != {expected}"
        return
    if isinstance(expected, Path):
        _assert_same_files(expected, Path(loaded))
        return
    assert type(loaded) is type(expected), (
        f"loaded a {_type_name(loaded)}, saved a {_type_name(expected)}"
    )
    assert loaded == expected, f"{loaded!r} != {expected!r}"


# --- internals -----------------------------------------------------------------------------------


class _FailingMaterializer:
    """Stands in for a materializer, handing its `save` a filesystem whose writes fail part-way."""

    def __init__(self, inner: Materializer, fail_after_bytes: int) -> None:
        self._inner = inner
        self._budget = fail_after_bytes

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        return self._inner.save(obj, _FailingFileSystem(fs, self._budget), path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _FailingFileSystem:
    """Passes everything through, except that files written fail after a byte budget runs out."""

    def __init__(self, fs: Any, budget: int) -> None:
        self._fs = fs
        self._budget = budget

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        raw = self._fs.open(path, mode, **kwargs)
        return raw if "r" in mode and "+" not in mode else _FailingWriter(raw, self)

    def pipe_file(self, path: str, value: bytes, **kwargs: Any) -> None:
        with self.open(path, "wb", **kwargs) as f:
            f.write(value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fs, name)


class _FailingWriter:
    def __init__(self, raw: Any, owner: _FailingFileSystem) -> None:
        self._raw = raw
        self._owner = owner

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if view.nbytes > self._owner._budget:
            self._raw.write(view[: self._owner._budget])
            self._owner._budget = 0
            raise InjectedFailure(INJECTED_MESSAGE)
        self._owner._budget -= view.nbytes
        written: int = self._raw.write(view)
        return written

    def __enter__(self) -> _FailingWriter:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._raw.__exit__(*exc_info)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def _host_with(materializer: MaterializerRef, plugins: PluginHost | None) -> tuple[PluginHost, str]:
    """A host knowing `materializer`; unregistered ones go into a new host, not the shared one."""
    if isinstance(materializer, str):
        host = plugins or PluginHost()
        host.materializers.get(materializer)  # raises, listing the registered ids
        return host, materializer
    mid = materializer.id
    host = plugins or PluginHost()
    if mid not in host.materializers:
        if plugins is None:
            host = PluginHost(make_plugin_manager())
        host.materializers.register(materializer, plugin=TEST_PLUGIN)
    return host, mid


def _store(url: str | os.PathLike[str] | None, host: PluginHost) -> ArtifactStore:
    return ArtifactStore(url or f"memory://flow-artifacts-testing-{uuid.uuid4().hex}", plugins=host)


def _assert_checksum_matches_bytes(store: ArtifactStore, artifact: Artifact) -> None:
    manifest = artifact.manifest
    algorithm = algorithm_of(manifest.checksum)
    assert algorithm == CHECKSUM_ALGORITHM, f"new artifacts are hashed with {CHECKSUM_ALGORITHM}"
    data = store.full_path(manifest.data_path)
    if not manifest.directory:
        body = store.fs.cat_file(data)
        assert manifest.checksum == format_checksum(hexdigest_of(body, algorithm), algorithm), (
            f"recorded checksum {manifest.checksum} is not the {algorithm} of the stored bytes"
        )
        assert manifest.size == len(body), f"recorded size {manifest.size} != {len(body)} bytes"
        return
    root = store.fs._strip_protocol(data)
    found = {}
    for path in store.fs.find(root):
        body = store.fs.cat_file(path)
        found[posixpath.relpath(path, root)] = (hexdigest_of(body, algorithm), len(body))
    assert manifest.files == {rel: [hexdigest, size] for rel, (hexdigest, size) in found.items()}
    assert manifest.checksum == directory_checksum(found, algorithm)
    assert manifest.size == sum(size for _, size in found.values())


def _files(store: ArtifactStore) -> set[str]:
    """Files in the store, but its identity record, which its first write makes either way."""
    found = set(store.fs.find(store.root)) if store.fs.exists(store.root) else set()
    return {p for p in found if not p.endswith(f"/{IDENTITY}")}


def _temp_files(store: ArtifactStore) -> list[str]:
    """Temporaries and pending-write records left in the store's reserved namespace."""
    reserved = f"{store.root}/{RESERVED}"
    found = store.fs.find(reserved) if store.fs.exists(reserved) else []
    return [p for p in found if not p.endswith(f"/{IDENTITY}")]


def _assert_same_files(expected: Path, loaded: Path) -> None:
    if expected.is_file():
        assert loaded.read_bytes() == expected.read_bytes(), f"{loaded} differs from {expected}"
        return
    copied = [p for p in loaded.rglob("*") if p.is_file()]
    assert copied, f"{loaded} holds no files"
    for path in copied:
        original = expected / path.relative_to(loaded)
        assert original.is_file() and original.read_bytes() == path.read_bytes(), str(path)


def _assert_equal(expected: Any, loaded: Any, equals: Equals | None) -> None:
    if equals is None:
        default_equals(expected, loaded)
    elif equals(expected, loaded) is False:
        raise AssertionError(f"loaded {_type_name(loaded)} does not equal what was saved")


def _reports_injected_failure(error: BaseException) -> bool:
    """Whether the injected failure is in `error`'s chain of causes, or quoted by one of them.

    Native writers (polars, Arrow's C++ sinks) turn Python exceptions into their own errors that
    keep only the message; what matters is that the user still sees why the write failed.
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, InjectedFailure) or INJECTED_MESSAGE in str(seen):
            return True
        seen = seen.__cause__
    return False


def _type_name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"
