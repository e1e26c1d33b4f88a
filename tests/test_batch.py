"""`materialize_many`: many artifacts committed in one catalog transaction, all or none."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.errors import FlowArtifactsError, InvalidName
from flow_artifacts.maintenance import gc, verify
from flow_artifacts.manifest import MANIFEST_SUFFIX

from . import batch_worker
from .gc_support import expire_leases, kill_when
from .test_reliability_crash import store_files


def test_a_batch_commits_every_artifact_with_its_version_lineage_and_one_step_run(stack) -> None:
    raw = fa.materialize(b"raw", "raw", "r0", "ingest", "demo", stack=stack)
    reports = {f"report{i}": {"i": i, "notes": "x" * 800} for i in range(20)}
    made = fa.materialize_many(
        reports, "r1", "evaluate", "demo", inputs=[raw], labels={"team": "ml"}, stack=stack
    )
    assert list(made) == list(reports)
    for name, art in made.items():
        assert art.version == 1 and art.name == name and art.labels == {"team": "ml"}
        assert fa.load(f"store://demo/{name}", stack=stack) == reports[name]
    assert len({art.manifest.step_run_id for art in made.values()}) == 1
    report3 = made["report3"]
    assert report3.manifest.inputs == [raw.id]
    assert set(report3.lineage().artifacts) == {raw.id, report3.id}
    again = fa.materialize_many(
        {"report3": [1], "other": [2]}, "r1", "evaluate", "demo", stack=stack
    )
    assert again["report3"].version == 2 and again["other"].version == 1
    assert fa.load("store://demo/report3@1", stack=stack) == reports["report3"]
    assert fa.materialize_many({}, "r1", "evaluate", "demo", stack=stack) == {}
    assert all(r.ok for r in verify(stack=stack))


def test_a_batch_on_a_memory_store_and_on_s3(s3_bucket_url, tmp_path: Path) -> None:
    url, options = s3_bucket_url
    for store in (
        fa.ArtifactStore(f"memory://batch-{tmp_path.name}"),
        fa.ArtifactStore(url, **options),
    ):
        stack = fa.Stack(store=store, catalog=fa.Catalog(f"sqlite:///{tmp_path / 'c.db'}"))
        made = fa.materialize_many({"a": {"v": 1}, "b": b"bytes"}, "r1", "s", "demo", stack=stack)
        assert fa.load(made["a"], stack=stack) == {"v": 1}
        assert fa.load(made["b"].uri, stack=stack) == b"bytes"
        assert all(r.ok for r in verify(stack=stack))
        stack.close()


@pytest.mark.parametrize(
    "bad",
    [
        {"labels": {"x" * 600: "v"}},  # a label no row may hold: refused before any byte
        {"bad name/with slash": 1},  # an invalid name after two good ones
        {"late": object()},  # a value no materializer takes (pickles refused below)
    ],
    ids=["label", "name", "unsaveable"],
)
def test_a_failing_item_leaves_no_trace_of_any_item_of_its_batch(stack, bad) -> None:
    stack.allow_pickle = False  # so that no materializer takes a bare object()
    objects: dict = {"first": {"v": 1}, "second": {"v": 2}}
    options = bad if "labels" in bad else {}
    objects.update({} if options else bad)
    before = store_files(stack.store.root) if Path(stack.store.root).exists() else set()
    with pytest.raises(FlowArtifactsError):
        fa.materialize_many(objects, "r1", "s", "demo", stack=stack, **options)
    assert list(fa.list_artifacts("demo", stack=stack)) == []
    assert store_files(stack.store.root) == before  # bytes withdrawn, records released
    made = fa.materialize_many({"first": {"v": 1}}, "r1", "s", "demo", stack=stack)
    assert made["first"].version == 1 and made["first"].key == "demo/r1/s/first"


def test_a_batch_whose_inputs_are_missing_commits_nothing(stack) -> None:
    with pytest.raises(FlowArtifactsError):
        fa.materialize_many({"a": 1, "b": 2}, "r1", "s", "demo", inputs=["0" * 32], stack=stack)
    assert list(fa.list_artifacts("demo", stack=stack)) == []


def test_a_batch_killed_between_two_published_manifests_commits_none_of_them(
    stack, catalog_url
) -> None:
    """Killed inside its transaction (three of five manifests published, no COMMIT yet): no
    artifact of that batch is visible in the catalog, every earlier batch is whole, reindex of
    a lost catalog does not restore the killed batch's manifests, and gc collects them."""
    root = stack.store.root
    committed: list[str] = []

    def said(line: str) -> bool:
        if line.startswith("committed:"):
            committed.append(line.split(":", 1)[1].strip())
        # kill at the third manifest of a batch after at least two whole batches committed
        return (
            len(committed) >= 2 * batch_worker.BATCH
            and line.startswith("published:")
            and line.strip().endswith("-2")
        )

    kill_when([sys.executable, batch_worker.__file__, root, catalog_url], said)
    names = {a.name for a in fa.list_artifacts("batch", stack=stack)}
    assert names == set(committed)  # whole batches only
    assert len(names) % batch_worker.BATCH == 0
    killed = len(names) // batch_worker.BATCH
    published = {f"batch/run{killed}/write/b{killed}-{i}{MANIFEST_SUFFIX}" for i in range(3)}
    assert published <= store_files(root)  # published in the transaction, never committed

    rebuilt = fa.Stack(
        store=stack.store, catalog=fa.Catalog(f"sqlite:///{Path(root).parent / 'lost.db'}")
    )
    fa.reindex(stack=rebuilt)
    assert {a.name for a in fa.list_artifacts("batch", stack=rebuilt)} == names
    rebuilt.close()

    assert gc(stack=stack).paths == []  # the killed writer's lease may still be live
    assert expire_leases(stack.store) == 1  # one pending-write record names the whole batch
    kept = {p for a in fa.list_artifacts(stack=stack)
            for p in (a.key + MANIFEST_SUFFIX, a.manifest.data_path)}  # fmt: skip
    gc(stack=stack)
    assert store_files(root) == kept
    assert all(r.ok for r in verify(stack=stack))


def test_names_are_checked_like_materialize_names(stack) -> None:
    with pytest.raises(InvalidName):
        fa.materialize_many({"*": 1}, "r1", "s", "demo", stack=stack)


def test_a_key_taken_while_the_batch_was_writing_sends_the_batch_past_it(stack) -> None:
    """Another writer's manifest appears at one of the batch's keys after its bytes were written
    (what object stores notice only when publishing): the whole batch is withdrawn and written
    again, that artifact at its next versioned key, and nothing of the first attempt remains."""
    store = stack.store
    publish = store.write_manifest

    def racing_publish(manifest) -> None:  # type: ignore[no-untyped-def]
        store.write_manifest = publish  # once
        other = fa.ArtifactStore(store.root)
        other.save(b"foreign", "demo/r1/s/b.bin")  # the manifest of key demo/r1/s/b
        publish(manifest)

    store.write_manifest = racing_publish
    made = fa.materialize_many({"a": {"v": 1}, "b": {"v": 2}}, "r1", "s", "demo", stack=stack)
    assert made["a"].key == "demo/r1/s/a" and made["b"].key == "demo/r1/s/b.v1"
    assert [a.version for a in made.values()] == [1, 1]
    assert fa.load(made["b"], stack=stack) == {"v": 2}
    committed = {p for a in made.values() for p in (a.key + MANIFEST_SUFFIX, a.manifest.data_path)}
    foreign = {"demo/r1/s/b" + MANIFEST_SUFFIX, "demo/r1/s/b.bin"}
    assert store_files(store.root) == committed | foreign


def test_a_batch_takes_materialize_s_materializer_options(local_stack):
    """The same options as `materialize`: here the Parquet codec of every frame in the batch."""
    import pandas as pd

    frames = {f"part{i}": pd.DataFrame({"x": range(10)}) for i in range(2)}
    made = fa.materialize_many(
        frames, "r1", "split", "demo", materializer_options={"compression": "zstd"}
    )
    assert {a.manifest.metadata["compression"] for a in made.values()} == {"zstd"}
    with pytest.raises(fa.ConfigError):
        fa.materialize_many(frames, "r2", "split", "demo", materializer_options={"level": 3})
    assert list(fa.list_artifacts(project="demo", run_id="r2")) == []
