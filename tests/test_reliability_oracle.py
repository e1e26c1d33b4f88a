"""The randomized oracle of issue 11 (`tests/reliability_oracle.py`): seeded sequences of
materialize, tag, untag, update, add_metadata, rm, gc, reindex after losing the catalog and moving
the project folder, with SIGKILL at random points; after every step the catalog equals the model,
everything committed and not deleted loads and verifies. `benchmarks/oracle_soak.py` runs more.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
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


def _lose_catalog_and_reindex(stack: fa.Stack, folder: Path) -> fa.Stack:
    stack.catalog.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{folder / 'catalog.db'}{suffix}").unlink(missing_ok=True)
    stack = fa.Stack.local(folder)
    fa.reindex(stack=stack)
    return stack


@pytest.mark.xfail(
    strict=True, reason="bug: reindex restores the manifest of a write killed before COMMIT"
)
def test_reindex_does_not_restore_a_write_killed_before_commit(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    stack = fa.Stack.local(folder)
    stack.catalog.engine.dispose()
    assert in_child(lambda: _killed_after_manifest(folder), None, None).killed
    assert stack.catalog.count() == 0  # the write did not commit
    stack = _lose_catalog_and_reindex(stack, folder)
    assert stack.catalog.count() == 0  # actual: 1, a version that never committed


@pytest.mark.xfail(
    strict=True,
    reason="bug: reindex aborts (raw IntegrityError) when a killed write's manifest holds the "
    "version a committed artifact has",
)
def test_reindex_keeps_the_committed_version_a_killed_write_also_claimed(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    stack = fa.Stack.local(folder)
    stack.catalog.engine.dispose()
    assert in_child(lambda: _killed_after_manifest(folder), None, None).killed
    committed = fa.materialize({"v": "committed"}, "report", "r2", "s", "demo", stack=stack)
    assert committed.version == 1
    stack = _lose_catalog_and_reindex(stack, folder)  # actual: sqlalchemy IntegrityError escapes
    assert fa.load("store://demo/report@1", stack=stack) == {"v": "committed"}


@pytest.mark.xfail(
    strict=True, reason="bug: gc --keep-last deletes the inputs of a tagged old version"
)
def test_keep_last_keeps_the_inputs_of_a_tagged_old_version(tmp_path: Path) -> None:
    from flow_artifacts.maintenance import gc

    stack = fa.Stack.local(tmp_path / "p")
    raw1 = fa.materialize({"raw": 1}, "raw", "r1", "s", "demo", stack=stack)
    baseline = fa.materialize({"m": 1}, "model", "r2", "s", "demo", inputs=[raw1], stack=stack)
    fa.tag(baseline, "baseline", stack=stack)
    raw2 = fa.materialize({"raw": 2}, "raw", "r3", "s", "demo", stack=stack)
    fa.materialize({"m": 2}, "model", "r4", "s", "demo", inputs=[raw2], stack=stack)
    gc(keep_last=1, stack=stack)  # actual: deletes raw@1, model:baseline's input
    graph = fa.lineage("store://demo/model:baseline", stack=stack)
    assert raw1.id in {a.id for a in graph.artifacts}
    assert fa.load(raw1.id, stack=stack) == {"raw": 1}


@pytest.mark.xfail(
    strict=True,
    reason="bug: re-running an interrupted reindex skips the journal records of "
    "the rows the first run restored (tags, label updates, aspects lost)",
)
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
    fa.reindex(stack=stack)  # the user runs it again
    restored = fa.get_artifact(art.id, stack=stack)
    assert restored.labels == {"stage": "prod"}  # actual: {}
    assert restored.description == "edited"
    assert stack.catalog.aspects(art.id) == {"quality": {"rows": 1}}
    assert stack.catalog.tags(art.id) == ["prod"]
