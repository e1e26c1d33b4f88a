"""The randomized oracle of issue 11 (`tests/reliability_oracle.py`): seeded sequences of
materialize, tag, untag, update, add_metadata, rm, gc, reindex after losing the catalog and moving
the project folder, with SIGKILL at random points; after every step the catalog equals the model,
everything committed and not deleted loads and verifies. `benchmarks/oracle_soak.py` runs more.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.rebuild import ReindexReport
from tests.gc_support import dead_write, expire_leases
from tests.reliability_oracle import Counts, in_child, run_sequence

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="kills forked writers")

SEQUENCES = 6
STEPS = 40


def report(counts: Counts) -> str:
    return (
        f"{counts.sequences} sequences, {counts.operations} operations, {counts.kills} kills, "
        f"{counts.ghosts} ghost records, {counts.reindexes} reindexes, {counts.moves} moves, "
        f"{len(counts.violations)} violations:\n" + "\n".join(counts.violations)
    )


def test_local_store_and_sqlite_keep_everything_committed(tmp_path: Path) -> None:
    """Embedded default (`Stack.local`): the folder holds store and catalog and moves whole."""
    total = Counts()
    for seed in range(SEQUENCES):
        total.add(run_sequence(seed, tmp_path / str(seed), STEPS))
    assert not total.violations, report(total)
    assert total.kills and total.reindexes and total.moves


def test_postgres_catalog_keeps_everything_committed(tmp_path: Path, postgres_database_factory):
    """The same oracle with the catalog on PostgreSQL (the store stays a local folder: forked
    writers and killed transactions on a real server)."""
    urls = iter(postgres_database_factory, None)

    def lose_catalog(stack: fa.Stack) -> None:
        nonlocal current
        current = next(urls)  # a fresh, empty database: the old one is lost

    current = next(urls)

    def open_stack(folder: Path) -> fa.Stack:
        return fa.Stack(store=fa.ArtifactStore(folder / "artifacts"), catalog=Catalog(current))

    total = Counts()
    for seed in range(2):
        current = next(urls)
        total.add(
            run_sequence(
                1000 + seed, tmp_path / str(seed), 25,
                open_stack=open_stack, lose_catalog=lose_catalog,
            )
        )  # fmt: skip
    assert not total.violations, report(total)
    assert total.kills


def _killed_after_manifest(folder: Path) -> None:
    """A materialize of report `r1` SIGKILLed after its manifest is published, before COMMIT."""
    from flow_artifacts.stores import store

    publish = store.ArtifactStore.write_manifest

    def publish_then_die(self, manifest):  # type: ignore[no-untyped-def]
        publish(self, manifest)
        os.kill(os.getpid(), signal.SIGKILL)

    store.ArtifactStore.write_manifest = publish_then_die  # type: ignore[method-assign]
    fa.materialize(
        {"v": "never committed"}, "report", "r1", "s", "demo", stack=fa.Stack.local(folder)
    )


def _lose_catalog_and_reindex(stack: fa.Stack, folder: Path) -> tuple[fa.Stack, ReindexReport]:
    stack.catalog.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{folder / 'catalog.db'}{suffix}").unlink(missing_ok=True)
    stack = fa.Stack.local(folder)
    return stack, fa.reindex(stack=stack)


def test_reindex_does_not_restore_a_write_killed_before_commit(tmp_path: Path) -> None:
    """Its pending-write record is still in the store: the commit is unconfirmed, the manifest
    is reported, not restored, and gc removes it once the lease expired."""
    from flow_artifacts.maintenance import gc

    folder = tmp_path / "p"
    stack = fa.Stack.local(folder)
    stack.catalog.engine.dispose()
    assert in_child(lambda: _killed_after_manifest(folder), None, None).killed
    assert stack.catalog.count() == 0  # the write did not commit
    expire_leases(stack.store)
    stack, report = _lose_catalog_and_reindex(stack, folder)
    assert stack.catalog.count() == 0
    [(path, reason)] = report.skipped
    assert path == "demo/r1/s/report.artifact.json"
    assert "died before confirming the commit" in reason and "gc removes it" in reason
    expire_leases(stack.store)
    assert "demo/r1/s/report.artifact.json" in gc(stack=stack).garbage
    assert fa.reindex(stack=stack).ok
    assert not any(p.is_file() for p in (folder / "artifacts" / "demo").rglob("*"))


def test_reindex_leaves_an_unconfirmed_write_in_flight_alone(tmp_path: Path) -> None:
    """A write whose lease is live (its writer may still commit) is not restored either."""
    folder = tmp_path / "p"
    stack = fa.Stack.local(folder)
    stack.catalog.engine.dispose()
    assert in_child(lambda: _killed_after_manifest(folder), None, None).killed
    stack, report = _lose_catalog_and_reindex(stack, folder)
    assert stack.catalog.count() == 0
    [(_, reason)] = report.skipped
    assert "still in progress" in reason


def test_reindex_keeps_the_committed_version_a_killed_write_also_claimed(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    stack = fa.Stack.local(folder)
    stack.catalog.engine.dispose()
    assert in_child(lambda: _killed_after_manifest(folder), None, None).killed
    committed = fa.materialize({"v": "committed"}, "report", "r2", "s", "demo", stack=stack)
    assert committed.version == 1  # the catalog hands out the version the dead write claimed
    stack, report = _lose_catalog_and_reindex(stack, folder)
    assert fa.load("store://demo/report@1", stack=stack) == {"v": "committed"}
    assert stack.catalog.count() == 1
    assert [p for p, _ in report.skipped] == ["demo/r1/s/report.artifact.json"]


def _killed_after_commit(folder: Path) -> None:
    """A materialize of report `r1` SIGKILLed after COMMIT, before it released its record."""
    from flow_artifacts.stores import store

    def die(self, manifest):  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), signal.SIGKILL)

    store.ArtifactStore.finish_write = die  # type: ignore[method-assign]
    fa.materialize({"v": "committed"}, "report", "r1", "s", "demo", stack=fa.Stack.local(folder))


def test_gc_with_the_catalog_confirms_a_committed_write_that_was_not_released(
    tmp_path: Path,
) -> None:
    """The row owns the files: gc removes only the dead record, and a reindex after losing the
    catalog then restores the artifact."""
    from flow_artifacts.maintenance import gc

    folder = tmp_path / "p"
    stack = fa.Stack.local(folder)
    stack.catalog.engine.dispose()
    assert in_child(lambda: _killed_after_commit(folder), None, None).killed
    assert stack.catalog.count() == 1
    expire_leases(stack.store)
    [record] = gc(stack=stack).garbage
    assert record.startswith(".flow-artifacts/writes/")
    stack, report = _lose_catalog_and_reindex(stack, folder)
    assert report.ok and report.added == 1
    assert fa.load("store://demo/report@1", stack=stack) == {"v": "committed"}


def test_reindex_cannot_confirm_a_commit_unreleased_when_the_catalog_was_lost_before_gc(
    tmp_path: Path,
) -> None:
    """The one window docs/architecture.md admits: killed between COMMIT and release, and the
    catalog lost before a gc confirmed the write. The store alone cannot tell it from a write
    killed before COMMIT; reindex reports it and does not restore it."""
    folder = tmp_path / "p"
    stack = fa.Stack.local(folder)
    stack.catalog.engine.dispose()
    assert in_child(lambda: _killed_after_commit(folder), None, None).killed
    expire_leases(stack.store)
    stack, report = _lose_catalog_and_reindex(stack, folder)
    assert stack.catalog.count() == 0
    assert [p for p, _ in report.skipped] == ["demo/r1/s/report.artifact.json"]


def test_keep_last_keeps_the_inputs_of_a_tagged_old_version(tmp_path: Path) -> None:
    from flow_artifacts.maintenance import gc

    stack = fa.Stack.local(tmp_path / "p")
    raw1 = fa.materialize({"raw": 1}, "raw", "r1", "s", "demo", stack=stack)
    baseline = fa.materialize({"m": 1}, "model", "r2", "s", "demo", inputs=[raw1], stack=stack)
    fa.tag(baseline, "baseline", stack=stack)
    raw2 = fa.materialize({"raw": 2}, "raw", "r3", "s", "demo", stack=stack)
    fa.materialize({"m": 2}, "model", "r4", "s", "demo", inputs=[raw2], stack=stack)
    assert gc(keep_last=1, stack=stack).surplus == []  # raw@1 is model:baseline's input
    graph = fa.lineage("store://demo/model:baseline", stack=stack)
    assert raw1.id in graph.artifacts
    assert fa.load(raw1.id, stack=stack) == {"raw": 1}


def test_keep_last_of_one_project_keeps_what_another_project_was_made_from(
    tmp_path: Path,
) -> None:
    """Lineage crosses projects: `gc --keep-last --project` protects the inputs of artifacts
    outside that project, transitively through a tagged version."""
    from flow_artifacts.maintenance import gc

    stack = fa.Stack.local(tmp_path / "p")
    seed = fa.materialize({"seed": 1}, "seed", "r0", "s", "src", stack=stack)
    raw1 = fa.materialize({"raw": 1}, "raw", "r1", "s", "src", inputs=[seed], stack=stack)
    fa.materialize({"seed": 2}, "seed", "r2", "s", "src", stack=stack)
    fa.materialize({"raw": 2}, "raw", "r3", "s", "src", stack=stack)
    old = fa.materialize({"m": 1}, "model", "r4", "s", "other", inputs=[raw1], stack=stack)
    fa.tag(old, "baseline", stack=stack)
    fa.materialize({"m": 2}, "model", "r5", "s", "other", stack=stack)
    assert gc(keep_last=1, project="src", stack=stack).surplus == []
    assert gc(keep_last=1, stack=stack).surplus == []
    assert fa.load(seed.id, stack=stack) == {"seed": 1}


def _rm_killed_before_commit(folder: Path, artifact_id: str) -> None:
    """An rm SIGKILLed after its tombstone was journaled, before COMMIT: the row stays."""
    from flow_artifacts import journal

    append = journal.Journal.append

    def append_then_die(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        append(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    journal.Journal.append = append_then_die  # type: ignore[method-assign]
    fa.delete(artifact_id, stack=fa.Stack.local(folder))


def test_gc_finishes_a_delete_that_reindex_followed_after_gc_kept_its_row(
    tmp_path: Path,
) -> None:
    """The soak's `UnknownArtifacts`: a killed rm leaves its tombstone and its row; gc (the row
    owns the files) removes the rm's dead lease record; the catalog is lost and reindex follows
    the tombstone. The files are then a deleted artifact's: gc removes them instead of refusing."""
    from flow_artifacts.maintenance import gc

    folder = tmp_path / "p"
    stack = fa.Stack.local(folder)
    doomed = fa.materialize({"v": 1}, "report", "r1", "s", "demo", stack=stack)
    kept = fa.materialize({"v": 2}, "report", "r2", "s", "demo", stack=stack)
    stack.catalog.engine.dispose()
    assert in_child(lambda: _rm_killed_before_commit(folder, doomed.id), None, None).killed
    assert stack.catalog.count() == 2  # the catalog wins: the rm did not happen
    expire_leases(stack.store)
    [record] = gc(stack=stack).garbage
    assert record.startswith(".flow-artifacts/writes/")
    stack, report = _lose_catalog_and_reindex(stack, folder)
    assert report.ok and stack.catalog.count() == 1  # the tombstone is followed
    dry = gc(dry_run=True, stack=stack)
    assert dry.garbage == ["demo/r1/s/report.artifact.json", "demo/r1/s/report.json"]
    assert dry.unknown_manifests == [] and dry.unaccounted == []
    gc(stack=stack)
    assert not (folder / "artifacts" / "demo" / "r1").exists() or not any(
        (folder / "artifacts" / "demo" / "r1").rglob("*.*")
    )
    assert fa.load(kept.id, stack=stack) == {"v": 2}


def test_gc_keeps_a_deleted_artifacts_files_while_other_manifests_are_unknown(
    tmp_path: Path,
) -> None:
    """A catalog that does not know every other manifest may be lost or foreign: gc refuses
    and names the deleted artifact's manifest too; with force it keeps them."""
    from flow_artifacts.maintenance import gc

    folder = tmp_path / "p"
    stack = fa.Stack.local(folder)
    doomed = fa.materialize({"v": 1}, "report", "r1", "s", "demo", stack=stack)
    fa.materialize({"v": 2}, "report", "r2", "s", "demo", stack=stack)
    stack.catalog.engine.dispose()
    assert in_child(lambda: _rm_killed_before_commit(folder, doomed.id), None, None).killed
    expire_leases(stack.store)
    gc(stack=stack)
    stack.catalog.close()
    (folder / "catalog.db").unlink()
    stack = fa.Stack.local(folder)  # a lost catalog, not reindexed
    with pytest.raises(fa.UnknownArtifacts):
        gc(stack=stack)
    forced = gc(force=True, stack=stack)
    assert sorted(forced.unknown_manifests) == [
        "demo/r1/s/report.artifact.json",
        "demo/r2/s/report.artifact.json",
    ]
    assert forced.garbage == []
    assert (folder / "artifacts" / "demo" / "r1" / "s" / "report.json").exists()


def test_reindex_resumed_after_a_kill_restores_every_change(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    stack = fa.Stack.local(folder)
    art = fa.materialize({"v": 1}, "report", "r1", "s", "demo", stack=stack)
    fa.update(art, labels={"stage": "prod"}, description="edited", stack=stack)
    fa.add_metadata(art, "quality", {"rows": 1}, stack=stack)
    fa.tag(art, "prod", stack=stack)
    stack.catalog.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{folder / 'catalog.db'}{suffix}").unlink(missing_ok=True)

    def reindex_killed_after_the_first_row() -> None:
        from flow_artifacts.catalog import catalog

        restore = catalog.Catalog.restore

        def restore_then_die(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            restore(self, *args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)

        catalog.Catalog.restore = restore_then_die  # type: ignore[method-assign]
        fa.reindex(stack=fa.Stack.local(folder))

    assert in_child(reindex_killed_after_the_first_row, None, None).killed
    stack = fa.Stack.local(folder)
    assert stack.catalog.count() == 0  # one transaction: the killed reindex left nothing
    fa.reindex(stack=stack)  # the user runs it again
    restored = fa.get_artifact(art.id, stack=stack)
    assert restored.labels == {"stage": "prod"}
    assert restored.description == "edited"
    assert stack.catalog.aspects(art.id) == {"quality": {"rows": 1}}
    assert stack.catalog.tags(art.id) == ["prod"]


def test_reindex_takes_a_folder_artifacts_member_named_like_a_manifest_for_data(
    tmp_path: Path,
) -> None:
    """A file the folder's manifest lists is data whatever its name: not reported, not
    restored, even when it is a valid manifest of another artifact."""
    folder = tmp_path / "p"
    stack = fa.Stack.local(folder)
    other = fa.materialize({"v": 1}, "report", "r1", "s", "demo", stack=stack)
    source = tmp_path / "upload"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "x.artifact.json").write_bytes(b"not json")
    (source / "copy.artifact.json").write_text(json.dumps(other.manifest.to_dict()))
    tree = fa.upload_file(source, "tree", "demo", run_id="r2", stack=stack)
    stack, report = _lose_catalog_and_reindex(stack, folder)
    assert report.ok, report.skipped
    assert report.added == 2
    assert sorted(fa.load(tree.id, stack=stack).rglob("*.artifact.json")) != []


def test_reindex_takes_files_inside_a_dead_folder_upload_for_data(tmp_path: Path) -> None:
    """A killed folder upload leaves files under its data path (one named like a manifest) and
    its record: reindex reports nothing, and gc removes them."""
    from flow_artifacts.maintenance import gc

    folder = tmp_path / "p"
    stack = fa.Stack.local(folder)
    fa.materialize({"v": 1}, "report", "r1", "s", "demo", stack=stack)
    dead_write(stack.store, "demo/r2/s/tree", "demo/r2/s/tree")
    member = folder / "artifacts" / "demo" / "r2" / "s" / "tree" / "sub" / "x.artifact.json"
    member.parent.mkdir(parents=True)
    member.write_bytes(b"half written")
    stack, report = _lose_catalog_and_reindex(stack, folder)
    assert report.ok, report.skipped
    assert "demo/r2/s/tree/sub/x.artifact.json" in gc(stack=stack).garbage
    assert not member.exists()


def test_gc_finishes_the_delete_of_a_folder_artifact_with_a_member_named_like_a_manifest(
    tmp_path: Path,
) -> None:
    from flow_artifacts.maintenance import gc

    folder = tmp_path / "p"
    stack = fa.Stack.local(folder)
    source = tmp_path / "upload"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "x.artifact.json").write_bytes(b"data, not a manifest")
    (source / "a.txt").write_bytes(b"a")
    tree = fa.upload_file(source, "tree", "demo", run_id="r1", stack=stack)
    stack.catalog.engine.dispose()
    assert in_child(lambda: _rm_killed_before_commit(folder, tree.id), None, None).killed
    expire_leases(stack.store)
    gc(stack=stack)
    stack, report = _lose_catalog_and_reindex(stack, folder)
    assert report.ok, report.skipped
    assert stack.catalog.count() == 0
    removed = gc(stack=stack).garbage
    assert "demo/r1/upload/tree/sub/x.artifact.json" in removed
    assert not [p for p in (folder / "artifacts" / "demo").rglob("*") if p.is_file()]
