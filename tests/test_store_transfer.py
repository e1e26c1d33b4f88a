"""Large and concurrent transfers: multipart uploads and streamed downloads in bounded memory,
invisible partial uploads, write-once between racing writers, progress bars."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import flow_artifacts as fa
from flow_artifacts import progress
from flow_artifacts.materializers.base import Materializer
from tests.core_plugins import RegisterPlugin, host_with
from tests.test_store_support import (  # noqa: F401  (fixtures)
    Target,
    artifact_files,
    make_stack_fixture,
    object_target_fixture,
    open_target,
    target_fixture,
)

MIB = 1 << 20
SMALL_PARTS = {
    "s3": {"default_block_size": 5 * MIB},
    "gcs": {"block_size": 4 * MIB},
    "azure": {"blocksize": 4 * MIB},
}
"""Storage options for small upload parts, so a few MiB already make a multipart upload."""


class GatedBytes(Materializer):
    """Writes its bytes, then waits at `gate` before closing the file (which publishes it)."""

    id = "tests.gated"
    handles = ()
    extension = ".bin"
    gate: ClassVar[Any] = None

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        with fs.open(path, "wb") as f:
            f.write(obj)
            type(self).gate()
        return {}

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        return fs.cat_file(path)


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[], Any]], Any]]:
    def install(gate: Callable[[], Any]) -> Any:
        monkeypatch.setattr(GatedBytes, "gate", staticmethod(gate))
        return host_with(gated=RegisterPlugin(GatedBytes))

    yield install


def small_parts(target: Target) -> dict[str, Any]:
    return SMALL_PARTS.get(target[0], {})


def random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as f:
        for _ in range(size // MIB):
            f.write(os.urandom(MIB))
    return path


MEASURE = textwrap.dedent("""
    import json, sys, tracemalloc
    from pathlib import Path
    import flow_artifacts as fa
    from flow_artifacts.catalog import Catalog

    url, options, source, work = json.loads(sys.argv[1])
    store = fa.ArtifactStore(url, **options)
    stack = fa.Stack(store=store, catalog=Catalog(f"sqlite:///{work}/c.db"))
    warm = fa.materialize(b"warm-up: imports and clients", "warm", "r0", "s", stack=stack)
    warm.download(Path(work) / "warm.bin")

    def peak(action):
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            result = action()
            return tracemalloc.get_traced_memory()[1] - base, result
        finally:
            tracemalloc.stop()

    up, art = peak(lambda: fa.upload_file(source, "big", stack=stack))
    down, _ = peak(lambda: art.download(Path(work) / "copy.bin"))
    stream, _ = peak(lambda: sum(len(c) for c in art.as_stream(chunk_size=1 << 20)))
    path = stack.store.full_path(art.manifest.data_path)
    print(json.dumps({"up": up, "down": down, "stream": stream,
                      "info": {k: str(v) for k, v in stack.store.fs.info(path).items()}}))
""")


def measure_in_subprocess(target: Target, source: Path, work: Path) -> dict[str, Any]:
    """Peak Python allocations of an upload, a download and a stream, in a process of their own
    (the moto server runs in this one, and its allocations would count here)."""
    _, url, options = target
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps([url, options, str(source), str(work)])],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("kind", ["local", "s3", "gcs", "azure"])
def test_big_files_go_up_in_parts_and_come_down_in_chunks(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Memory stays well under the size of the file (a memory store holds it all anyway)."""
    target = open_target(kind, request, tmp_path)
    # S3 sends parts concurrently, each also copied by the HTTP client: memory is bounded by
    # the parts in flight (here 2) and the one being filled, not by the file's size
    concurrency = {"max_concurrency": 2} if kind == "s3" else {}
    target = (kind, target[1], {**target[2], **small_parts(target), **concurrency})
    source = random_file(tmp_path / "big.bin", 96 * MIB)

    measured = measure_in_subprocess(target, source, tmp_path)

    assert (tmp_path / "copy.bin").read_bytes() == source.read_bytes()
    assert measured["up"] < 40 * MIB, measured
    assert measured["down"] < 32 * MIB, measured
    assert measured["stream"] < 6 * MIB, measured
    if kind == "s3":
        assert "-" in measured["info"]["ETag"], measured["info"]  # a multipart upload's ETag


def test_one_huge_write_is_uploaded_in_parts(object_target: Target, make_stack) -> None:
    stack = make_stack(object_target, **small_parts(object_target))
    payload = os.urandom(20 * MIB)

    art = fa.materialize(payload, "blob", "r1", "s", "demo", stack=stack)

    assert fa.load(art, stack=stack) == payload
    if object_target[0] == "s3":
        info = stack.store.fs.info(stack.store.full_path(art.manifest.data_path))
        assert info["ETag"].strip('"').endswith("-4")  # four parts of 5 MiB


def test_an_upload_in_progress_is_invisible(target: Target, make_stack, gated) -> None:
    reached, release = threading.Event(), threading.Event()
    plugins = gated(lambda: (reached.set(), release.wait(60)))
    stack = make_stack(target, plugins=plugins, **small_parts(target))
    results: list[Any] = []
    writer = threading.Thread(
        target=lambda: results.append(
            fa.materialize(os.urandom(12 * MIB), "big", "r1", "s", "demo",
                           materializer="tests.gated", stack=stack)
        )
    )  # fmt: skip
    writer.start()
    try:
        assert reached.wait(60)
        store = stack.store
        assert not store.exists("demo/r1/s/big") and store.list_artifacts() == []
        assert not store.fs.exists(store.full_path("demo/r1/s/big.bin"))
        with pytest.raises(fa.ArtifactNotFound):
            fa.get_artifact("store://demo/big", stack=stack)
    finally:
        release.set()
        writer.join(60)
    assert results and fa.get_artifact("store://demo/big", stack=stack).id == results[0].id


@pytest.mark.parametrize(
    ("kind", "size"),
    [("s3", 1000), ("s3", 12 * MIB), ("azure", 1000), ("azure", 12 * MIB), ("gcs", 1000)],
    ids=["s3-one-shot", "s3-multipart", "azure-one-shot", "azure-multipart", "gcs-one-shot"],
)
def test_of_two_racing_writers_exactly_one_wins(
    kind: str, size: int, request: pytest.FixtureRequest, tmp_path: Path, make_stack, gated
) -> None:
    """Both writers pass the existence check and upload all their bytes; only then does either
    publish, so only the conditional write can stop the second one.

    The emulators check the condition and store the object in two steps, so truly simultaneous
    publishes could both pass there; the second publish therefore starts when the first has
    finished. (fake-gcs-server also ignores if-generation-match on resumable uploads, so GCS
    races with one-shot uploads only; real GCS honours it on both.)
    """
    uploaded = threading.Barrier(2)
    first_done = threading.Event()
    gated_once: set[str] = set()

    def gate() -> None:
        name = threading.current_thread().name
        if name in gated_once:  # the loser's second write, at the next versioned key
            return
        gated_once.add(name)
        uploaded.wait(60)
        if name == "second":
            first_done.wait(60)

    plugins = gated(gate)
    target = open_target(kind, request, tmp_path)
    catalog_url = f"sqlite:///{tmp_path / 'shared.db'}"
    stacks = [
        make_stack(target, catalog_url, plugins=plugins, skip_instance_cache=True,
                   **small_parts(target))
        for _ in range(2)
    ]  # fmt: skip
    payloads = {"first": b"A" * size, "second": b"B" * size}
    outcomes: dict[str, Any] = {}

    def write(stack: fa.Stack) -> None:
        name = threading.current_thread().name
        try:
            outcomes[name] = fa.materialize(
                payloads[name], "model", "r1", "train", "demo", materializer="tests.gated",
                stack=stack,
            )  # fmt: skip
        except Exception as exc:
            outcomes[name] = exc
        finally:
            if name == "first":
                first_done.set()

    writers = [threading.Thread(target=write, args=(stack,), name=name)
               for stack, name in zip(stacks, payloads, strict=True)]  # fmt: skip
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)

    # the conditional write stopped the second at the key the first took; a stack's write then
    # goes to the next versioned key (issue 14) instead of failing
    winner, loser = outcomes["first"], outcomes["second"]
    assert isinstance(winner, fa.Artifact) and isinstance(loser, fa.Artifact), outcomes
    assert winner.key == "demo/r1/train/model" and loser.key == "demo/r1/train/model.v2"
    winner.verify()
    loser.verify()
    assert fa.load("store://demo/model@1", stack=stacks[1]) == payloads["first"]
    assert fa.load("store://demo/model@2", stack=stacks[1]) == payloads["second"]
    assert artifact_files(stacks[0].store) == sorted(
        [a.key + ".artifact.json" for a in (winner, loser)]
        + [a.manifest.data_path for a in (winner, loser)]
    )


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_progress_bars_show_only_when_wanted(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_stack,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress, "THRESHOLD", MIB)
    monkeypatch.setattr(progress, "DELAY_S", 0)
    target = open_target(kind, request, tmp_path)
    payload = os.urandom(3 * MIB)

    def transfer(stack: fa.Stack, name: str) -> str:
        art = fa.materialize(payload, name, "r1", "s", "demo", stack=stack)
        art.download(tmp_path / name)
        fa.materialize(b"tiny", f"{name}-tiny", "r1", "s", "demo", stack=stack)
        return capsys.readouterr().err

    shown = transfer(make_stack(target, progress=True), "shown")
    assert "uploading demo/r1/s/shown" in shown and "downloading demo/r1/s/shown" in shown
    assert "tiny" not in shown
    assert transfer(make_stack(target, progress=False), "off") == ""
    monkeypatch.delenv(progress.ENV, raising=False)
    assert transfer(make_stack(target), "default") == ""  # stderr is no terminal here
    monkeypatch.setenv(progress.ENV, "1")
    assert "downloading" in transfer(make_stack(target), "forced")
