"""The commit protocol under concurrency and crashes, and integrity checks on read."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog

from . import catalog_workers

WORKERS = 8
PER_WORKER = 10


def test_concurrent_writers_get_distinct_gap_free_versions(stack, catalog_url):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WORKERS) as pool:
        results = pool.starmap(
            catalog_workers.materialize_many,
            [(stack.store.url, catalog_url, w, PER_WORKER) for w in range(WORKERS)],
        )
    versions = sorted(v for worker in results for v in worker)
    assert versions == list(range(1, WORKERS * PER_WORKER + 1))
    listed = list(fa.list_artifacts("race", name="shared", stack=stack))
    assert sorted(a.version for a in listed) == versions
    for art in listed:
        art.verify()  # every row's bytes exist and match
        assert art.load()["i"] < PER_WORKER


def test_a_writer_killed_between_bytes_and_row_leaves_the_catalog_consistent(stack, catalog_url):
    worker = Path(catalog_workers.__file__)
    proc = subprocess.run(
        [sys.executable, str(worker), stack.store.url, catalog_url],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr.decode()
    [kept] = list(fa.list_artifacts("crash", stack=stack))
    assert kept.name == "kept" and kept.load() == {"ok": True}
    with pytest.raises(fa.ArtifactNotFound):
        fa.get_artifact("store://crash/doomed", stack=stack)
    # the bytes are an orphan: on disk, but without manifest or row
    orphans = [p for p in Path(stack.store.root).rglob("doomed*")]
    assert orphans and not any(p.name.endswith(".artifact.json") for p in orphans)
    assert stack.store.list_artifacts() == [kept.key]


def test_corrupted_bytes_are_reported_on_every_read_path(stack):
    art = fa.materialize({"payload": "x" * 100}, "report", "r1", "s", "demo", stack=stack)
    path = Path(art.path)
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))
    for read in (art.load, art.verify, art.open, lambda: list(art.as_stream(chunk_size=16))):
        with pytest.raises(fa.IntegrityError, match="report"):
            read()


def test_reading_handles_stream_and_copy(stack, tmp_path):
    payload = bytes(range(256)) * 1000
    art = fa.materialize(payload, "blob", "r1", "s", "demo", stack=stack)
    chunks = list(art.as_stream(chunk_size=4096))
    assert max(len(c) for c in chunks) == 4096 and b"".join(chunks) == payload
    assert art.open().read() == payload
    with art.as_local_file() as local:
        assert local.read_bytes() == payload
    assert not local.exists()
    kept = tmp_path / "deep" / "dir" / "blob.bin"
    with art.as_local_file(kept) as local:
        assert local == kept
    assert kept.read_bytes() == payload


def test_catalog_in_a_fresh_directory_is_created_on_first_use(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'sub' / 'catalog.db'}"
    catalog = Catalog(url)
    assert catalog.count() == 0
    assert (tmp_path / "new" / "sub" / "catalog.db").exists()
