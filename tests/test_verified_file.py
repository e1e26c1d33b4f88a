"""Large verified loads read each file once: a whole-file artifact is read into memory when its
materializer asks for it, verified, and only then handed over; a Parquet file is hashed through
one small buffer while pyarrow reads it. Whatever was edited in the store never reaches the
caller, a pickle from edited bytes never runs, and a materializer cannot swallow the failure.
"""

from __future__ import annotations

import io
import os
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

import flow_artifacts as fa
from flow_artifacts import hashing
from flow_artifacts.catalog import Catalog
from flow_artifacts.errors import IntegrityError
from flow_artifacts.materializers.base import Materializer
from flow_artifacts.stores import reading, verified_file
from flow_artifacts.stores.reading import load_object
from flow_artifacts.stores.verified_file import MAPPED_MIN, MemoryFile, _read_mapped
from tests.pickle_payload import Payload


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path) -> Iterator[fa.Stack]:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    store = fa.ArtifactStore(str(tmp_path / "store"))
    yield fa.Stack(store=store, catalog=catalog, plugins=store.plugins)
    catalog.close()


def big_model() -> dict[str, Any]:
    rng = np.random.default_rng(11)
    return {"weights": rng.random(MAPPED_MIN // 8 + 4096), "names": [f"w{i}" for i in range(500)]}


def data_file(stack: fa.Stack, art: fa.Artifact) -> Path:
    return Path(stack.store.full_path(art.manifest.data_path))


def test_a_large_pickle_written_with_sha256_loads_from_memory_and_refuses_an_edit(
    stack: fa.Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashing, "CHECKSUM_ALGORITHM", "sha256")
    obj = big_model()
    art = fa.materialize(obj, "model", "r1", "s", "demo", stack=stack, materializer="cloudpickle")
    monkeypatch.undo()
    assert art.checksum.startswith("sha256:") and art.manifest.size >= MAPPED_MIN
    loaded = fa.load(art, stack=stack)
    assert np.array_equal(loaded["weights"], obj["weights"]) and loaded["names"] == obj["names"]
    marker = tmp_path / "ran"
    size = art.manifest.size
    hostile = pickle.dumps([Payload(marker), b"x" * size])[:size]  # same size, runs when loaded
    data_file(stack, art).write_bytes(hostile)
    with pytest.raises(IntegrityError, match="model"):
        fa.load(art, stack=stack)
    assert not marker.exists()


def test_a_pickle_grown_far_past_its_recorded_size_is_refused_before_it_runs(
    stack: fa.Stack, tmp_path: Path
) -> None:
    art = fa.materialize(
        big_model(), "model", "r1", "s", "demo", stack=stack, materializer="cloudpickle"
    )
    marker = tmp_path / "ran"
    with data_file(stack, art).open("ab") as grown:  # a second pickle after the first
        grown.write(pickle.dumps(Payload(marker)) + b"\0" * (4 << 20))
    with pytest.raises(IntegrityError, match="corrupted"):
        fa.load(art, stack=stack)
    assert not marker.exists()


def test_a_pickle_past_the_buffered_limit_is_still_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read again after its check, a pickle could be unpickled from bytes changed meanwhile: past
    the limit where other formats are hashed while they load, it is still read once."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    store = fa.ArtifactStore(f"memory://{tmp_path.name}")
    stack = fa.Stack(store=store, catalog=catalog, plugins=store.plugins)
    obj = set(range(1000))
    art = fa.materialize(obj, "model", "r1", "s", "demo", stack=stack, materializer="cloudpickle")
    monkeypatch.setattr(reading, "BUFFERED_LOAD_MAX", 0)
    opened: list[str] = []
    real_open = store.fs.open
    monkeypatch.setattr(
        store.fs, "open", lambda path, *a, **k: opened.append(path) or real_open(path, *a, **k)
    )
    assert fa.load(art, stack=stack) == obj
    assert opened == []  # read once, by cat_file, for the check, then unpickled from memory
    catalog.close()


def test_no_more_than_the_recorded_size_and_one_byte_is_read_into_memory(tmp_path: Path) -> None:
    path = tmp_path / "grown.bin"
    path.write_bytes(b"a" * (3 << 20))
    body, hexdigest = _read_mapped(str(path), 1000, "blake3")
    assert bytes(body) == b"a" * 1001
    assert hexdigest == hashing.hexdigest_of(b"a" * 1001, "blake3")


def test_a_large_array_loads_from_memory_and_refuses_an_edit(stack: fa.Stack) -> None:
    array = np.random.default_rng(2).random(MAPPED_MIN // 8 + 1000)
    art = fa.materialize(array, "array", "r1", "s", "demo", stack=stack)
    assert art.manifest.materializer == "numpy.npy" and art.manifest.size >= MAPPED_MIN
    assert np.array_equal(fa.load(art, stack=stack), array)
    body = bytearray(data_file(stack, art).read_bytes())
    body[-5] ^= 1
    data_file(stack, art).write_bytes(bytes(body))
    with pytest.raises(IntegrityError, match="array"):
        fa.load(art, stack=stack)


def test_a_large_parquet_file_grown_or_edited_fails_the_load(stack: fa.Stack) -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"a": rng.random(700_000), "b": rng.standard_normal(700_000)})
    art = fa.materialize(frame, "table", "r1", "s", "demo", stack=stack)
    assert art.manifest.size > 8 << 20  # hashed in a second thread while pyarrow reads it
    pd.testing.assert_frame_equal(fa.load(art, stack=stack), frame)
    path = data_file(stack, art)
    original = path.read_bytes()
    path.write_bytes(original + b"PAR1")  # pyarrow still reads it: only the checksum can tell
    with pytest.raises(IntegrityError, match="table"):
        fa.load(art, stack=stack)
    with pytest.raises(IntegrityError, match="table"):
        stack.store.verify(art.manifest)


class Swallowing(Materializer):
    """A careless plugin: reads its whole file and turns any failure into a default value."""

    id = "test.swallowing"
    reads_whole_file = True

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        raise NotImplementedError

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        try:
            with fs.open(path, "rb") as f:
                return f.read()
        except Exception:
            return "swallowed"


class NeverReads(Swallowing):
    """A plugin that declares it reads its file whole, then never does."""

    id = "test.never-reads"

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        return "made up"


@pytest.mark.parametrize("materializer", [Swallowing(), NeverReads()])
def test_a_materializer_cannot_hide_edited_bytes(stack: fa.Stack, materializer: Materializer):
    art = fa.materialize(b"\x01" * (MAPPED_MIN + 10), "blob", "r1", "s", "demo", stack=stack)
    data_file(stack, art).write_bytes(b"\x02" * (MAPPED_MIN + 10))
    store = stack.store
    with pytest.raises(IntegrityError, match="blob"):
        load_object(
            materializer, store.fs, store.locate(art.manifest), art.manifest, store._errors,
            store.verify,
        )  # fmt: skip


def test_a_large_bytes_artifact_is_still_handed_over_as_bytes(stack: fa.Stack) -> None:
    blob = bytes(range(256)) * ((MAPPED_MIN >> 8) + 3)
    art = fa.materialize(blob, "blob", "r1", "s", "demo", stack=stack)
    loaded = fa.load(art, stack=stack)
    assert type(loaded) is bytes and loaded == blob


def test_a_memory_file_reads_as_a_bytes_file_does() -> None:
    body = b"first line\nsecond\n" + bytes(range(256)) * 40 + b"\nlast, no newline"
    ours, theirs = MemoryFile(memoryview(body)), io.BytesIO(body)
    for step in [
        lambda f: f.read(5),
        lambda f: f.readline(),
        lambda f: f.readline(3),
        lambda f: f.seek(-2, io.SEEK_CUR),
        lambda f: f.readline(),
        lambda f: f.tell(),
        lambda f: (lambda b: (f.readinto(b), bytes(b)))(bytearray(1000)),
        lambda f: f.seek(-4, io.SEEK_END),
        lambda f: f.read(100),
        lambda f: f.read(100),
        lambda f: f.readline(),
        lambda f: f.seek(0),
        lambda f: f.read(),
        lambda f: f.seek(3),
        lambda f: f.readlines()[-1],
    ]:
        assert step(ours) == step(theirs)
    with pytest.raises(ValueError):
        ours.seek(-1)


class _NoThread(threading.Thread):
    def start(self) -> None:
        raise RuntimeError("can't start new thread")


class _JoinInterrupted(threading.Thread):
    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        raise KeyboardInterrupt  # as a Ctrl-C while waiting for the last piece's hash


@pytest.mark.parametrize("thread", [_NoThread, _JoinInterrupted])
def test_a_mapped_read_cut_short_leaves_no_descriptor_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, thread: type[threading.Thread]
) -> None:
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("open descriptors are counted in /proc")
    path = tmp_path / "big.bin"
    path.write_bytes(b"\x01" * (MAPPED_MIN + 10))
    monkeypatch.setattr(verified_file, "threading", SimpleNamespace(Thread=thread))
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises((RuntimeError, KeyboardInterrupt)):
        _read_mapped(str(path), MAPPED_MIN + 10, "blake3")
    assert len(os.listdir("/proc/self/fd")) == before


class _FailingHash:
    """A hash that fails on its second piece, as one out of memory would."""

    def __init__(self) -> None:
        self.pieces = 0

    def update(self, data: Any) -> None:
        self.pieces += 1
        if self.pieces == 2:
            raise MemoryError

    def hexdigest(self) -> str:
        return "0" * 64


def test_a_failure_of_the_hashing_thread_is_raised_not_reported_as_corruption(
    stack: fa.Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bytes are sound: a hash that failed part-way must not call them corrupted."""
    array = np.random.default_rng(3).random(MAPPED_MIN // 8 + 1000)
    art = fa.materialize(array, "weights", "r1", "s", "demo", stack=stack)
    monkeypatch.setattr(verified_file, "new_hash", lambda algorithm: _FailingHash())
    with pytest.raises(MemoryError):
        fa.load(art, stack=stack)
    monkeypatch.undo()
    assert np.array_equal(fa.load(art, stack=stack), array)
