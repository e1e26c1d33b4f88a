"""A batch's one pending-write record (`materialize_many`): it names every artifact of the batch
before the first byte, so gc never takes a file of a live batch, collects exactly what a killed
one left once its lease expired, and reindex restores none of a batch that did not commit; a
damaged or forged record costs no owned file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import flow_artifacts as fa
from flow_artifacts.maintenance import gc, verify
from flow_artifacts.manifest import MANIFEST_SUFFIX
from flow_artifacts.stores import store as store_module
from flow_artifacts.stores.paths import WRITES

from . import batch_bytes_worker
from .gc_support import expire_leases, kill_when
from .test_reliability_crash import store_files

REPORTS = {f"r{i}": {"item": i} for i in range(5)}
RESERVED_KEY = ".flow-artifacts/x"


def committed_files(stack: fa.Stack) -> set[str]:
    return {
        path
        for a in fa.list_artifacts(stack=stack)
        for path in (a.key + MANIFEST_SUFFIX, a.manifest.data_path)
    }


def test_a_batch_killed_while_writing_bytes_leaves_nothing_gc_cannot_account_for(
    stack, catalog_url
) -> None:
    root = stack.store.root
    committed: list[str] = []

    def said(line: str) -> bool:
        if line.startswith("committed:"):
            committed.append(line.split(":", 1)[1].strip())
        # kill once three artifacts of a batch are in place, after two whole batches
        return (
            len(committed) >= 2 * batch_bytes_worker.BATCH
            and line.startswith("wrote:")
            and line.strip().endswith("-2")
        )

    kill_when([sys.executable, batch_bytes_worker.__file__, root, catalog_url], said)
    names = {a.name for a in fa.list_artifacts("batch", stack=stack)}
    assert names == set(committed) and len(names) % batch_bytes_worker.BATCH == 0
    killed = len(names) // batch_bytes_worker.BATCH
    in_place = {f"batch/run{killed}/write/b{killed}-{i}.json" for i in range(3)}
    assert in_place <= store_files(root)  # bytes in place, no manifest, no row

    report = gc(stack=stack)  # the lease may still be live: the writer may only be slow
    assert report.paths == [] and report.unaccounted == []
    assert in_place <= store_files(root)

    rebuilt = fa.Stack(
        store=stack.store, catalog=fa.Catalog(f"sqlite:///{Path(root).parent / 'lost.db'}")
    )
    skipped = fa.reindex(stack=rebuilt).skipped
    assert {a.name for a in fa.list_artifacts("batch", stack=rebuilt)} == names
    # had the kill come once the batch published a manifest, that one is in doubt, not restored
    assert all(
        path.startswith(f"batch/run{killed}/") and reason.startswith("not restored: its write")
        for path, reason in skipped
    )
    rebuilt.close()

    assert expire_leases(stack.store) == 1
    report = gc(stack=stack)
    assert set(report.paths) >= in_place and not report.unaccounted and not report.unreadable
    assert store_files(root) == committed_files(stack)
    assert all(r.ok for r in verify(stack=stack))


def test_gc_while_a_batch_writes_and_publishes_takes_none_of_its_files(stack, monkeypatch) -> None:
    fa.materialize({"old": 1}, "old", "r0", "s", "demo", stack=stack)
    reports: list[fa.GcReport] = []
    write_data = store_module.ArtifactStore.write_data
    write_manifest = store_module.ArtifactStore.write_manifest

    def gc_third_write(self, obj, choose, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs["name"] == "r3":  # r0..r2 are in place, unpublished
            reports.append(gc(stack=stack))
        return write_data(self, obj, choose, **kwargs)

    def gc_third_manifest(self, manifest):  # type: ignore[no-untyped-def]
        if manifest.name == "r3":  # inside the batch's transaction: r0..r2 published
            reports.append(gc(stack=stack, force=True))
        write_manifest(self, manifest)

    monkeypatch.setattr(store_module.ArtifactStore, "write_data", gc_third_write)
    monkeypatch.setattr(store_module.ArtifactStore, "write_manifest", gc_third_manifest)
    done = fa.materialize_many(REPORTS, "r1", "s", "demo", stack=stack)

    assert len(reports) == 2
    assert all(r.paths == [] and r.unaccounted == [] for r in reports)
    assert {name: fa.load(a, stack=stack) for name, a in done.items()} == REPORTS
    assert stack.store.writes() == ({}, [])  # the batch's record went when it committed
    assert gc(stack=stack).paths == []


def test_a_damaged_or_forged_batch_record_costs_no_owned_file(stack) -> None:
    store = stack.store
    kept = fa.materialize_many(REPORTS, "r1", "s", "demo", stack=stack)
    files = store_files(store.root)
    first = kept["r0"].manifest
    dead = {
        "id": "", "key": first.key, "data_path": first.data_path, "artifact_id": first.id,
        "renewed": "2020-01-01T00:00:00+00:00", "lease_seconds": 1, "host": "x", "pid": 1,
    }  # fmt: skip
    forged = {  # names every committed artifact of the batch, dead for years
        "b" * 32: {**dead, "more": [
            {"key": a.key, "data_path": a.manifest.data_path, "artifact_id": a.id}
            for a in kept.values()
        ]},
        # each of these is refused as a record: what it covers is kept
        "c" * 32: {**dead, "more": [{"key": "demo", "data_path": "demo/r1"}]},
        "d" * 32: {**dead, "more": [{"key": RESERVED_KEY, "data_path": RESERVED_KEY}]},
        "e" * 32: {**dead, "more": {"key": first.key}},
        "f" * 32: {**dead, "more": [{"key": first.key, "data_path": first.data_path,
                                      "artifact_id": 7}]},
    }  # fmt: skip
    for write_id, record in forged.items():
        store.fs.pipe_file(
            f"{store.root}/{WRITES}/{write_id}.json",
            json.dumps({**record, "id": write_id}).encode(),
        )

    report = gc(stack=stack)
    assert report.paths == [f"{WRITES}/{'b' * 32}.json"]  # the rows own every file it names
    assert sorted(report.unreadable) == [f"{WRITES}/{c * 32}.json" for c in "cdef"]
    assert store_files(store.root) - files == {f"{WRITES}/{c * 32}.json" for c in "cdef"}
    assert {name: fa.load(a, stack=stack) for name, a in kept.items()} == REPORTS
