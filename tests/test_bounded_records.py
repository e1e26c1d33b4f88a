"""The small JSON files of a store (manifests; journal, write and identity records) are
untrusted input: one someone grew is refused by its length without being read whole, one
replaced by a named pipe is refused rather than waited on, and an empty one on an object store
is a damaged record, not a failed request."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts import limits
from flow_artifacts.manifest import MANIFEST_SUFFIX
from flow_artifacts.stores import transfer
from flow_artifacts.stores.leases import read_writes

REPORT = {"accuracy": 0.9}


@pytest.fixture
def small_bound(monkeypatch) -> int:
    """A bound of 1 MiB, so that a file past it is quick to plant."""
    monkeypatch.setattr(transfer, "MAX_JSON_FILE_BYTES", 1 << 20)
    monkeypatch.setattr(limits, "MAX_JSON_FILE_BYTES", 1 << 20)
    return 1 << 20


def manifest_path(store: fa.ArtifactStore, art: fa.Artifact) -> str:
    return store.full_path(art.key + MANIFEST_SUFFIX)


def test_a_grown_manifest_is_refused_without_being_read_whole(tmp_path: Path, small_bound):
    store = fa.ArtifactStore(tmp_path / "store")
    art = store.save(REPORT, "demo/r1/eval/report")
    with open(manifest_path(store, art), "ab") as grown:
        grown.write(b" " * (40 * small_bound))
    tracemalloc.start()
    try:
        with pytest.raises(fa.IntegrityError, match="more than the 1 MiB allowed"):
            store.get_manifest(art.key)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * small_bound  # the file is 40 MiB


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX only")
def test_a_pipe_in_place_of_a_manifest_or_a_write_record_is_refused_not_waited_on(
    tmp_path: Path,
):
    store = fa.ArtifactStore(tmp_path / "store")
    art = store.save(REPORT, "demo/r1/eval/report")
    os.unlink(manifest_path(store, art))
    os.mkfifo(manifest_path(store, art))
    with pytest.raises(fa.StoreError, match="not a regular file"):
        store.get_manifest(art.key)
    writes = tmp_path / "store" / ".flow-artifacts" / "writes"
    writes.mkdir(parents=True, exist_ok=True)
    os.mkfifo(writes / "planted.json")
    found, unreadable = read_writes(store.fs, store.root)
    assert unreadable == [".flow-artifacts/writes/planted.json"]


def test_an_empty_manifest_on_an_object_store_is_a_damaged_manifest(s3_bucket_url):
    url, options = s3_bucket_url
    store = fa.ArtifactStore(url, **options)
    art = store.save(REPORT, "demo/r1/eval/report")
    assert store.get_manifest(art.key).checksum == art.manifest.checksum  # a ranged read
    store.fs.pipe_file(manifest_path(store, art), b"")
    with pytest.raises(fa.IntegrityError, match="not valid JSON"):
        store.get_manifest(art.key)


@pytest.mark.parametrize("bucket", ["s3_bucket_url", "gcs_bucket_url", "azure_container_url"])
def test_a_grown_small_object_fails_its_check_reading_one_byte_past_its_size(bucket, request):
    url, options = request.getfixturevalue(bucket)
    store = fa.ArtifactStore(url, **options)
    small = store.save(REPORT, "demo/r1/eval/report")
    empty = store.save(b"", "demo/r1/eval/empty")
    for art in (small, empty):
        store.verify(art.key)  # intact: passes
        assert store.load(art.key) == (REPORT if art is small else b"")
        data = store.full_path(art.manifest.data_path)
        store.fs.pipe_file(data, store.fs.cat_file(data) + b"\0" * (8 << 20))
        with pytest.raises(fa.IntegrityError):
            store.verify(art.key)
        with pytest.raises(fa.IntegrityError):
            store.load(art.key)
