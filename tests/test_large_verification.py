"""Large artifacts are hashed in a second thread on write and on read: an edited byte still fails.

Past 8 MiB, a Parquet file is hashed in a second thread while pyarrow reads it, and
a pickle is read into one buffer and verified before it is unpickled; the object must never reach
the caller when one byte differs, and a pickle from the store must never run. On write, large
`write()` calls are hashed without a copy: a producer reusing its buffer as soon as `write()`
returns must not change the recorded checksum.
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import blake3
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.hashing import DIRECT_WRITE, GATHER, ONE_SHOT
from flow_artifacts.recording_fs import RecordingFileSystem
from tests.pickle_payload import Payload

ROWS = 800_000  # two float64 columns of random values: about 13 MB of Parquet, past 8 MiB


@pytest.fixture(name="stack", params=["local", "memory"])
def stack_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[fa.Stack]:
    """A local stack (read with one buffer) and a memory one (read in chunks, like S3)."""
    url = str(tmp_path / "store") if request.param == "local" else f"memory://{uuid.uuid4().hex}"
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    store = fa.ArtifactStore(url)
    yield fa.Stack(store=store, catalog=catalog, plugins=store.plugins)
    catalog.close()


def big_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({"a": rng.random(ROWS), "b": rng.standard_normal(ROWS)})


def flip_byte(stack: fa.Stack, art: fa.Artifact, offset: int) -> None:
    path = stack.store.full_path(art.manifest.data_path)
    body = bytearray(stack.store.fs.cat_file(path))
    body[offset] ^= 0x01
    stack.store.fs.pipe_file(path, bytes(body))


def test_large_parquet_round_trips_with_its_checksum(stack: fa.Stack) -> None:
    frame = big_frame()
    art = fa.materialize(frame, "table", "r1", "s", "demo", stack=stack)
    stored = stack.store.fs.cat_file(stack.store.full_path(art.manifest.data_path))
    assert len(stored) > 8 << 20
    assert art.manifest.checksum == "blake3:" + blake3.blake3(stored).hexdigest()
    pd.testing.assert_frame_equal(fa.load(art, stack=stack), frame)
    counted = frame.head(art.manifest.metadata["stats_rows"])  # computed while it was written
    stats = {entry["name"]: entry for entry in art.manifest.metadata["stats"]}
    assert stats["a"]["min"] == counted["a"].min() and stats["b"]["max"] == counted["b"].max()
    assert stats["a"]["nulls"] == 0 and stats["b"]["distinct"] == counted["b"].nunique()
    table = fa.materialize(pa.Table.from_pandas(frame), "arrow", "r1", "s", "demo", stack=stack)
    assert fa.load(table, stack=stack).equals(pa.Table.from_pandas(frame))


@pytest.mark.parametrize("where", [0.5, 0.999], ids=["data page", "footer"])
def test_a_flipped_byte_in_a_large_parquet_file_fails_the_load(
    stack: fa.Stack, where: float
) -> None:
    """In a data page the file still parses (one value changes): only the digest tells."""
    art = fa.materialize(big_frame(), "table", "r1", "s", "demo", stack=stack)
    flip_byte(stack, art, int(art.manifest.size * where))
    returned: list[Any] = []
    with pytest.raises(fa.IntegrityError, match="table"):
        returned.append(fa.load(art, stack=stack))
    assert returned == []


def model() -> dict[str, Any]:
    rng = np.random.default_rng(3)
    return {"weights": rng.random(1_500_000), "names": [f"w{i}" for i in range(1000)]}


def test_large_pickle_round_trips(stack: fa.Stack) -> None:
    obj = model()
    art = fa.materialize(obj, "model", "r1", "s", "demo", stack=stack, materializer="cloudpickle")
    assert art.manifest.size > 8 << 20
    loaded = fa.load(art, stack=stack)
    assert np.array_equal(loaded["weights"], obj["weights"]) and loaded["names"] == obj["names"]


@pytest.mark.parametrize("edit", ["flip", "truncate", "extend", "replace"])
def test_an_edited_large_pickle_never_loads(stack: fa.Stack, tmp_path: Path, edit: str) -> None:
    art = fa.materialize(
        model(), "model", "r1", "s", "demo", stack=stack, materializer="cloudpickle"
    )
    path = stack.store.full_path(art.manifest.data_path)
    body = stack.store.fs.cat_file(path)
    marker = tmp_path / "ran"
    hostile = pickle.dumps([Payload(marker), b"x" * (len(body) - 200)])
    edited = {
        "flip": body[: len(body) // 2]
        + bytes([body[len(body) // 2] ^ 1])
        + body[len(body) // 2 + 1 :],
        "truncate": body[:-1],
        "extend": body + b".",
        "replace": hostile,
    }[edit]
    stack.store.fs.pipe_file(path, edited)
    returned: list[Any] = []
    with pytest.raises(fa.IntegrityError, match="model"):
        returned.append(fa.load(art, stack=stack))
    assert returned == [] and not marker.exists()


def test_a_producer_reusing_its_buffer_does_not_change_the_checksum(tmp_path: Path) -> None:
    """Writes of every size, each buffer overwritten as soon as `write()` returns."""
    from fsspec.implementations.local import LocalFileSystem

    fs = RecordingFileSystem(LocalFileSystem())
    rng = np.random.default_rng(5)
    sizes = [
        10,
        DIRECT_WRITE - 1,
        ONE_SHOT,
        3,
        DIRECT_WRITE,
        5 * DIRECT_WRITE + 7,
        100,
        *[GATHER // 3 + 1] * 4,  # small writes gathered across a chunk boundary
        ONE_SHOT * 2,
        GATHER - 1,
    ]
    expected = blake3.blake3()
    target = str(tmp_path / "out.bin")
    with fs.open(target, "wb") as f:
        for size in sizes:
            buffer = bytearray(rng.bytes(size))
            expected.update(buffer)
            f.write(buffer)
            buffer[:] = b"\0" * size  # reused by the producer
    stored = Path(target).read_bytes()
    assert blake3.blake3(stored).hexdigest() == expected.hexdigest()
    assert fs.written[fs.fs._strip_protocol(target)] == (expected.hexdigest(), sum(sizes))
