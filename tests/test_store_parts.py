"""S3 uploads in concurrent parts (stores/multipart.py): every byte stored and hashed, parts
really in flight together but never more than allowed, nothing left by a failed upload, and a
download of bytes edited in the store refused."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import flow_artifacts as fa
from flow_artifacts.hashing import format_checksum, hexdigest_of
from flow_artifacts.stores import multipart
from tests.test_store_support import Target, artifact_files, make_stack_fixture  # noqa: F401

MIB = 1 << 20


@pytest.fixture
def s3_target(s3_bucket_url: tuple[str, dict[str, Any]]) -> Target:
    url, options = s3_bucket_url
    return "s3", url, {**options, "default_block_size": 5 * MIB}


def on_parts(stack: fa.Stack, before: Callable[..., Any], after: Callable[..., Any]) -> None:
    """Run `before` and `after` around every UploadPart request of the stack's S3 client (on the
    filesystem's event loop; `before` may be a coroutine function)."""
    fa.materialize(b"opens the client", "warm", "r0", "s", "demo", stack=stack)
    events = stack.store.fs.s3.meta.events
    events.register("before-call.s3.UploadPart", before)
    events.register("after-call.s3.UploadPart", after)


def test_a_big_upload_sends_parts_together_but_no_more_than_allowed(
    s3_target: Target, make_stack, tmp_path: Path
) -> None:
    stack = make_stack(s3_target)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(20 * MIB))
    in_flight, most, arrived = [0], [0], asyncio.Event()

    async def before(**kwargs: Any) -> None:
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        if in_flight[0] >= 2:
            arrived.set()
        # a writer that sent one part at a time would wait here for a second one in vain
        await asyncio.wait_for(arrived.wait(), 60)

    def after(**kwargs: Any) -> None:
        in_flight[0] -= 1

    on_parts(stack, before, after)
    art = fa.upload_file(source, "big", "demo", stack=stack)

    assert 2 <= most[0] <= multipart.CONCURRENCY
    body = source.read_bytes()
    assert art.manifest.checksum == format_checksum(hexdigest_of(body))
    assert art.download(tmp_path / "copy.bin").read_bytes() == body
    info = stack.store.fs.info(stack.store.full_path(art.manifest.data_path))
    assert info["ETag"].strip('"').endswith("-4")  # four parts of 5 MiB
    assert stack.store.uploads() == []


def test_a_failed_part_aborts_the_upload_and_leaves_nothing(
    s3_target: Target, make_stack, tmp_path: Path
) -> None:
    stack = make_stack(s3_target)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(30 * MIB))
    sent = [0]

    def before(**kwargs: Any) -> None:
        sent[0] += 1
        if sent[0] == 3:
            raise ConnectionResetError("the connection broke during part 3")

    on_parts(stack, before, lambda **kwargs: None)
    before_failure = artifact_files(stack.store)

    with pytest.raises(fa.FlowArtifactsError, match="broke during part 3"):
        fa.upload_file(source, "big", "demo", run_id="r1", stack=stack)

    assert stack.store.uploads() == []  # aborted, not left to be billed
    assert artifact_files(stack.store) == before_failure
    assert stack.store.writes() == ({}, [])
    with pytest.raises(fa.ArtifactNotFound):
        fa.get_artifact("store://demo/big", stack=stack)
    sent[0] = -100  # the same key can be written again
    art = fa.upload_file(source, "big", "demo", run_id="r1", stack=stack)
    assert art.key == "demo/r1/upload/big" and art.version == 1


def test_a_second_writer_of_a_taken_key_completes_no_upload(
    s3_target: Target, make_stack, tmp_path: Path
) -> None:
    """The conditional create refuses the second completion; its parts are aborted."""
    stack = make_stack(s3_target)
    store = stack.store
    path = store.full_path("demo/raced.bin")
    store.fs.pipe_file(path, b"the winner's bytes")
    upload = multipart.PartsFileSystem(store.fs).open(path, "xb")
    upload.write(os.urandom(12 * MIB))

    with pytest.raises(FileExistsError):
        upload.close()

    assert store.fs.cat_file(path) == b"the winner's bytes"
    assert store.uploads() == []


def test_a_download_of_bytes_edited_in_the_store_is_refused(
    s3_target: Target, make_stack, tmp_path: Path
) -> None:
    stack = make_stack(s3_target)
    body = os.urandom(12 * MIB)
    art = fa.materialize(body, "big", "r1", "s", "demo", stack=stack)
    edited = bytearray(body)
    edited[9 * MIB] ^= 1
    stack.store.fs.pipe_file(stack.store.full_path(art.manifest.data_path), bytes(edited))

    with pytest.raises(fa.IntegrityError):
        art.download(tmp_path / "copy.bin")
    assert not (tmp_path / "copy.bin").exists()
    with pytest.raises(fa.IntegrityError):
        fa.load(art, stack=stack)


def test_parts_grow_so_a_long_stream_fits_the_part_limit(
    s3_target: Target, make_stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 takes at most 10,000 parts, and a stream's length is unknown when it starts: the part
    size doubles every `GROW_EVERY` parts (here 2, so 40 MiB go up as 5, 5, 10, 10 and 10 MiB)."""
    monkeypatch.setattr(multipart, "GROW_EVERY", 2)
    stack = make_stack(s3_target)
    payload = os.urandom(40 * MIB)

    art = fa.materialize(payload, "grown", "r1", "s", "demo", stack=stack)

    assert fa.load(art, stack=stack) == payload
    info = stack.store.fs.info(stack.store.full_path(art.manifest.data_path))
    assert info["ETag"].strip('"').endswith("-5")


def test_an_upload_dropped_without_close_is_aborted_not_published(
    s3_target: Target, make_stack
) -> None:
    stack = make_stack(s3_target)
    store = stack.store
    path = store.full_path("demo/dropped.bin")
    upload = multipart.PartsFileSystem(store.fs).open(path, "xb")
    upload.write(os.urandom(12 * MIB))
    assert [rel for rel, _ in store.uploads()] == ["demo/dropped.bin"]

    del upload  # the object goes once its parts in flight are done with it

    for _ in range(300):
        if not store.uploads():
            break
        time.sleep(0.1)
    assert store.uploads() == []
    assert not store.fs.exists(path)
