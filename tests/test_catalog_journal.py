"""The store alone rebuilds the catalog exactly (journal + reindex), and a commit either happens
or leaves no trace (row limits checked before any byte is written)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import flow_artifacts as fa
from flow_artifacts import pipeline, step
from flow_artifacts.catalog import Catalog
from flow_artifacts.catalog import schema as t
from flow_artifacts.manifest import MANIFEST_SUFFIX
from flow_artifacts.stores.paths import JOURNAL_DIR
from tests.test_store_support import Target, artifact_files, open_target, stored_files

STORES = ["local", "memory", "s3"]


@pytest.fixture(params=STORES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    return open_target(request.param, request, tmp_path)


@pytest.fixture
def make_stack(target: Target, catalog_url_factory: Callable[[], str]):
    """Stacks over one store, each with its own new catalog on the backend under test."""
    catalogs: list[Catalog] = []

    def make(url: str | None = None) -> fa.Stack:
        catalog = Catalog(url or catalog_url_factory())
        catalogs.append(catalog)
        _, root, options = target
        store = fa.ArtifactStore(root, **options)
        return fa.Stack(store=store, catalog=catalog, plugins=store.plugins, project="demo")

    yield make
    for catalog in catalogs:
        catalog.close()


def snapshot(catalog: Catalog) -> dict[str, Any]:
    """Everything a user can see in a catalog, independent of surrogate keys."""
    with catalog.engine.connect() as conn:
        runs = {r.pk: (r.project, r.run_id) for r in conn.execute(select(t.runs))}

        def rows(table: Any, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
            found = [
                {k: v for k, v in r._mapping.items() if k not in drop}
                for r in conn.execute(select(table))
            ]
            for row in found:
                if "run_pk" in row:
                    row["run_pk"] = runs[row["run_pk"]]
            return sorted(found, key=lambda r: json.dumps(r, sort_keys=True, default=str))

        return {
            "projects": sorted(conn.execute(select(t.projects.c.name)).scalars()),
            # whether a pickle may be loaded is this catalog's decision, never the store's: a
            # rebuilt catalog starts untrusting (test_reliability_pickle checks that)
            "artifacts": rows(t.artifacts, drop=("pickle_trusted",)),
            "names": rows(t.artifact_names),
            "labels": rows(t.labels),
            "tags": rows(t.tags),
            "aspects": [
                {k: v for k, v in r._mapping.items() if k != "pk"}
                for r in conn.execute(select(t.aspects).order_by(t.aspects.c.pk))
            ],
            "edges": rows(t.step_inputs),
            "runs": rows(t.runs, drop=("pk",)),
            "step_runs": rows(t.step_runs),
        }


@step
def double(x: int) -> int:
    return 2 * x


@step
def explode(x: int) -> int:
    raise ValueError(f"cannot handle {x}")


@pipeline(project="demo")
def flaky(x: int) -> int:
    return explode(double(x))


@step(cache=True)
def square(x: int) -> int:
    return x * x


@pipeline(project="demo")
def squares(x: int) -> int:
    return square(x)


def build_history(stack: fa.Stack) -> dict[str, fa.Artifact]:
    """A catalog with every kind of change made after writing."""
    raw = fa.materialize(
        {"rows": 3}, "raw", "r0", "ingest", labels={"team": "ml"}, description="first",
        metadata={"source": "s3", "n": [1, 2]}, stack=stack,
    )  # fmt: skip
    v1, v2, v3 = (
        fa.materialize({"v": i}, "clean", f"r{i}", "prep", inputs=[raw], stack=stack)
        for i in (1, 2, 3)
    )
    fa.tag(v1, "prod", stack=stack)
    fa.tag(v2, "prod", stack=stack)  # moved
    fa.tag(v3, "candidate", stack=stack)
    fa.untag(v3, "candidate", stack=stack)
    fa.tag(v3, "best", stack=stack)
    fa.tag(raw, "golden", stack=stack)
    fa.update(v1, labels={"team": "data", "tmp": "x"}, description="checked", stack=stack)
    fa.update(v1, labels={"tmp": None}, stack=stack)
    fa.update(raw, description="", stack=stack)
    fa.add_metadata(v3, "eval", {"acc": 0.9}, stack=stack)
    schema = {"type": "object", "properties": {"acc": {"type": "number"}}}
    fa.add_metadata(v3, "eval", {"acc": 0.95}, schema=schema, stack=stack)
    fa.add_metadata(v1, "owner", "ana", stack=stack)
    fa.delete(v2, stack=stack)  # a middle version, with the tag it carried
    with fa.use_stack(stack), pytest.raises(ValueError):
        flaky(21)
    with fa.use_stack(stack):
        squares(4)
        squares(4)  # a cache hit: its step run journaled as one step_run_cached record
    gone = fa.materialize({"v": 9}, "scratch", "r9", "prep", stack=stack)
    fa.tag(gone, "tmp", stack=stack)
    fa.delete("scratch", "demo", all_versions=True, stack=stack)
    return {"raw": raw, "v1": v1, "v3": v3}


def lose_catalog(stack: fa.Stack) -> None:
    stack.catalog.close()
    database = stack.catalog.engine.url.database
    if stack.catalog.engine.dialect.name == "sqlite":
        os.remove(database)  # type: ignore[arg-type]


def test_reindex_restores_a_lost_catalog_exactly(make_stack) -> None:
    stack = make_stack()
    build_history(stack)
    before = snapshot(stack.catalog)
    assert before["runs"] and any(s["status"] == "failed" for s in before["step_runs"])
    assert [s["status"] for s in before["step_runs"] if s["cached"]] == ["completed"]
    lose_catalog(stack)

    rebuilt = make_stack()
    report = fa.reindex(stack=rebuilt)

    assert report.skipped == [] and report.added == 5  # raw, clean@1, clean@3, double, square
    assert snapshot(rebuilt.catalog) == before
    again = fa.reindex(stack=rebuilt)  # idempotent over a catalog that has rows
    assert again.added == 0 and again.skipped == []
    assert snapshot(rebuilt.catalog) == before
    # deleted versions stay deleted, and their numbers are never handed out again
    assert [a.version for a in fa.list_artifacts(name="clean", stack=rebuilt)] == [3, 1]
    assert fa.materialize({"v": 4}, "clean", "r4", "prep", stack=rebuilt).version == 4
    assert fa.materialize({"v": 10}, "scratch", "r10", "prep", stack=rebuilt).version == 2
    assert fa.get_artifact("store://demo/clean:best", stack=rebuilt).version == 3
    with pytest.raises(fa.ArtifactNotFound):
        fa.get_artifact("store://demo/clean:prod", stack=rebuilt)


def test_bad_manifests_and_records_are_skipped_and_reported(make_stack, target) -> None:
    stack = make_stack()
    arts = build_history(stack)
    store = stack.store
    journal = sorted(p for p in stored_files(store) if p.startswith(JOURNAL_DIR + "/"))
    broken_record = journal[0]
    store.fs.pipe_file(f"{store.root}/{broken_record}", b"{not json")
    store.fs.pipe_file(f"{store.root}/{arts['raw'].key}{MANIFEST_SUFFIX}", b"\x00garbage")
    lose_catalog(stack)

    rebuilt = make_stack()
    report = fa.reindex(stack=rebuilt)

    skipped = dict(report.skipped)
    assert set(skipped) == {broken_record, arts["raw"].key + MANIFEST_SUFFIX}
    assert "not valid JSON" in skipped[broken_record]
    assert report.added == 4  # the rest is restored
    assert fa.get_artifact("store://demo/clean:best", stack=rebuilt).id == arts["v3"].id
    assert fa.get_artifact(arts["v1"].id, stack=rebuilt).labels == {"team": "data"}


def test_interrupted_rm_stays_deleted(make_stack) -> None:
    stack = make_stack()
    keep = fa.materialize(b"keep", "blob", "r1", "s", stack=stack)
    victim = fa.materialize(b"victim", "blob", "r2", "s", stack=stack)
    # rm's first step only: the tombstone is journaled with the row delete; the process dies
    # before any file is removed
    stack.catalog.delete_rows([victim.id], journal=stack.store.journal)
    assert stack.store.exists(victim.key)
    lose_catalog(stack)

    rebuilt = make_stack()
    assert fa.reindex(stack=rebuilt).added == 1
    assert [a.id for a in fa.list_artifacts(stack=rebuilt)] == [keep.id]
    assert fa.materialize(b"next", "blob", "r3", "s", stack=rebuilt).version == 3


def test_reindex_keeps_a_row_the_catalog_holds_despite_its_tombstone(make_stack) -> None:
    """The catalog is the trust root: a tombstone of a row it holds (a delete that did not
    commit, or a forgery) is reported, and the row, its bytes and its version stay."""
    stack = make_stack()
    victim = fa.materialize(b"victim", "blob", "r2", "s", stack=stack)
    record = stack.store.journal.append(
        "delete",
        datetime.now(timezone.utc),
        {"artifact_id": victim.id, "project": "demo", "name": "blob", "version": 1}
        | {"step_run_id": None, "inputs": []},
    )

    report = fa.reindex(stack=stack)

    assert "the catalog, which is authoritative" in dict(report.skipped)[record]
    assert [a.id for a in fa.list_artifacts(stack=stack)] == [victim.id]
    assert fa.load(victim, stack=stack) == b"victim"


def test_reindex_cli_lists_what_it_skipped_and_exits_non_zero(tmp_path: Path) -> None:
    root = tmp_path / ".flow_artifacts"
    stack = fa.Stack.local(root)
    good = fa.materialize({"ok": 1}, "good", "r1", "s", stack=stack)
    bad = fa.materialize({"ok": 2}, "bad", "r1", "s", stack=stack)
    fa.tag(good, "prod", stack=stack)
    Path(stack.store.root, bad.key + MANIFEST_SUFFIX).write_text('{"format": "nope"}')
    record = next(Path(stack.store.root, JOURNAL_DIR).rglob("*.json"))
    record.write_text(json.dumps({"format": "flow-artifacts.journal", "format_version": 1}))
    stack.close()
    (root / "catalog.db").unlink()

    env = {k: v for k, v in os.environ.items() if k != "FLOW_ARTIFACTS_STACK"}
    proc = subprocess.run(
        [sys.executable, "-m", "flow_artifacts", "reindex"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip

    assert proc.returncode == 1, proc.stderr
    assert f"skipped {bad.key}{MANIFEST_SUFFIX}:" in proc.stdout
    assert f"skipped {record.relative_to(stack.store.root)}:" in proc.stdout
    assert "added 1 artifact(s)" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_journal_names_cannot_collide_with_artifacts() -> None:
    with pytest.raises(fa.InvalidName):
        fa.PathTemplate("{name}").render(project="p", run_id="r", step="s", name=".flow-artifacts")
    with pytest.raises(fa.ConfigError, match="must not start with '.'"):
        fa.PathTemplate(".flow-artifacts/{project}/{name}")


def test_gc_never_touches_the_journal(make_stack) -> None:
    from flow_artifacts.maintenance import gc

    stack = make_stack()
    art = fa.materialize(b"x", "blob", "r1", "s", stack=stack)
    fa.tag(art, "prod", stack=stack)
    before = stored_files(stack.store)
    report = gc(stack=stack)
    assert report.paths == [] and report.unaccounted == []
    assert stored_files(stack.store) == before


# --- a commit either happens or leaves no trace -------------------------------------------------


@pytest.mark.parametrize(
    "options, complaint",
    [
        ({"labels": {"team": "x" * 600}}, "600 characters long"),
        ({"labels": {"k" * 201: "v"}}, "label key"),
        ({"labels": {"team": "a\x00b"}}, "NUL"),
        ({"description": "nul \x00 here"}, "NUL"),
        ({"description": "lone \ud800"}, "surrogate"),
        ({"metadata": {"score": float("nan")}}, "JSON cannot record"),
        ({"metadata": {"why": "a\x00b"}}, "NUL"),
        ({"metadata": {1: "int key"}}, "keys must be strings"),
    ],
)
def test_unrecordable_values_are_refused_before_any_byte(make_stack, options, complaint) -> None:
    stack = make_stack()

    with pytest.raises(fa.FlowArtifactsError, match=complaint):
        fa.materialize({"a": 1}, "report", "r1", "s", stack=stack, **options)

    assert stored_files(stack.store) == {}
    assert fa.materialize({"a": 1}, "report", "r1", "s", stack=stack).version == 1


def test_curation_refuses_unrecordable_values_and_journals_nothing(make_stack) -> None:
    stack = make_stack()
    art = fa.materialize({"a": 1}, "report", "r1", "s", stack=stack)
    before = stored_files(stack.store)

    with pytest.raises(fa.InvalidName, match="600 characters"):
        fa.update(art, labels={"team": "x" * 600}, stack=stack)
    with pytest.raises(fa.InvalidName, match="NUL"):
        fa.update(art, description="a\x00b", stack=stack)
    with pytest.raises(fa.MetadataValidationError, match="JSON cannot record"):
        fa.add_metadata(art, "eval", {"acc": float("inf")}, stack=stack)
    with pytest.raises(fa.ArtifactNotFound):
        fa.untag(art, "never-set", stack=stack)

    assert stored_files(stack.store) == before
    assert fa.get_artifact(art.id, stack=stack).labels == {}


_REFUSE = {
    "sqlite": [
        "CREATE TRIGGER refuse BEFORE INSERT ON fa_artifacts "
        "BEGIN SELECT RAISE(ABORT, 'insert refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger AS "
        "$$ BEGIN RAISE EXCEPTION 'insert refused'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse BEFORE INSERT ON fa_artifacts "
        "FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}


def test_a_failed_catalog_insert_withdraws_the_manifest(make_stack) -> None:
    """The database itself refuses the row after the manifest was published."""
    stack = make_stack()
    engine = stack.catalog.engine
    with engine.begin() as conn:
        for statement in _REFUSE[engine.dialect.name]:
            conn.exec_driver_sql(statement)

    with pytest.raises(Exception, match="insert refused"):
        fa.materialize({"a": 1}, "report", "r1", "s", stack=stack)

    assert artifact_files(stack.store) == []
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP TRIGGER refuse"
            + (" ON fa_artifacts" if engine.dialect.name == "postgresql" else "")
        )
    art = fa.materialize({"a": 2}, "report", "r1", "s", stack=stack)  # the key stays writable
    assert art.version == 1 and fa.load(art, stack=stack) == {"a": 2}


def test_forged_journal_records_are_reported_not_followed(make_stack) -> None:
    stack = make_stack()
    a = fa.materialize(b"a", "a", "r1", "s", stack=stack)
    b = fa.materialize(b"b", "b", "r1", "s", stack=stack)
    journal = stack.store.journal
    now = datetime.now(timezone.utc)
    forged = journal.append(
        "tag", now, {"project": "demo", "name": "b", "tag": "prod", "artifact_id": a.id}
    )
    stack.store.write_small(
        f"{JOURNAL_DIR}/x/99990101T000000.000000Z-op.json",
        json.dumps(
            {"format": "flow-artifacts.journal", "format_version": 1, "op": "drop"}
        ).encode(),
    )

    report = fa.reindex(stack=stack)

    problems = dict(report.skipped)
    assert "names another artifact" in problems[forged]
    assert (
        "unknown journal operation" in problems[f"{JOURNAL_DIR}/x/99990101T000000.000000Z-op.json"]
    )
    assert fa.describe(b, stack=stack).tags == {}


def test_cache_hits_journaled_either_way_replay_to_the_same_step_runs(make_stack) -> None:
    """A cache hit's step run is one `step_run_cached` record now; stores written before hold
    a `step_run_start` and a `step_run_end` for it. Both rebuild a completed, cached step run
    with its inputs, and the run's end after it."""
    stack = make_stack()
    raw = fa.materialize({"rows": 3}, "raw", "r0", "ingest", stack=stack)
    journal, catalog = stack.store.journal, stack.catalog
    catalog.start_run("demo", "r1", pipeline="p", journal=journal)
    key = "sha256:" + "0" * 64
    old = catalog.start_step_run(
        "demo", "r1", "old", params={"x": 1}, cache_key=key, inputs=[raw.id], journal=journal
    )
    catalog.finish_step_run(old, "completed", cached=True, journal=journal)
    new = catalog.record_cached_step_run(
        "demo", "r1", "new", params={"x": 1}, cache_key=key, inputs=[raw.id], journal=journal
    )
    catalog.finish_run("demo", "r1", "completed", journal=journal)
    ops = sorted(r.op for r in journal.read()[0] if r.fields.get("id") in (old, new))
    assert ops == ["step_run_cached", "step_run_end", "step_run_start"]
    before = snapshot(catalog)
    for record in (catalog.step_run(old), catalog.step_run(new)):
        assert (record.status, record.cached, record.inputs) == ("completed", True, [raw.id])
        assert record.started < record.ended
    lose_catalog(stack)

    rebuilt = make_stack()
    assert fa.reindex(stack=rebuilt).skipped == []
    assert snapshot(rebuilt.catalog) == before
    assert fa.reindex(stack=rebuilt).skipped == []  # idempotent
    assert snapshot(rebuilt.catalog) == before
