"""A batch that did not commit and whose withdrawal failed part-way (the store refused one
removal) leaves its pending-write record to expire, so gc can collect what it left: the record
is not renewed on for as long as the process lives."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.errors import CatalogError
from flow_artifacts.maintenance import gc
from flow_artifacts.stores.paths import RESERVED

LEASE = 0.5


@pytest.fixture
def stack(tmp_path: Path):
    store = fa.ArtifactStore(str(tmp_path / "store"), lease_seconds=LEASE)
    catalog = fa.Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    stack = fa.Stack(store=store, catalog=catalog)
    yield stack
    stack.close()


def test_a_batch_whose_withdrawal_failed_is_left_for_gc(stack, monkeypatch) -> None:
    fa.materialize({"v": 0}, "kept", "r0", "s", "demo", stack=stack)

    def commit_fails(manifests, *, publish, **_):  # the catalog goes away after publishing
        for manifest in manifests:
            publish(manifest)
        raise CatalogError("catalog write failed: disk I/O error")

    monkeypatch.setattr(stack.catalog, "record_many", commit_fails)
    remove, calls = stack.store.fs.rm_file, []

    def first_removal_fails(path):  # the store refuses one removal, then works again
        calls.append(path)
        if len(calls) == 1:
            raise OSError("connection reset")
        return remove(path)

    monkeypatch.setattr(stack.store.fs, "rm_file", first_removal_fails)
    with pytest.raises(fa.FlowArtifactsError):
        fa.materialize_many({"a": [1], "b": [2]}, "r1", "s", "demo", stack=stack)
    monkeypatch.undo()

    time.sleep(LEASE * 2)  # the batch's lease runs out, unless something still renews it
    report = gc(stack=stack)
    assert any(p.endswith("a.artifact.json") for p in report.paths)  # left, now collected
    left = {p for p in stack.store.inventory() if not p.startswith(f"{RESERVED}/")}
    assert left == {"demo/r0/s/kept.json", "demo/r0/s/kept.artifact.json"}
    assert fa.load("store://demo/kept", stack=stack) == {"v": 0}
