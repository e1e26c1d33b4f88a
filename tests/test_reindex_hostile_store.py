"""`reindex` over a store someone else may have written: planted, oversized or contradicting
manifests and journal records are skipped and reported, never followed against the catalog (the
trust root), and the journal replays conflicting changes in commit order whatever the clocks.
(Findings of a hostile review of the journal and reindex.)"""

from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts import journal as journal_module
from flow_artifacts.catalog import Catalog
from flow_artifacts.manifest import MANIFEST_SUFFIX
from flow_artifacts.stores.paths import JOURNAL_DIR


def sqlite_stack(tmp_path: Path, n: int = 0) -> fa.Stack:
    catalog = Catalog(f"sqlite:///{tmp_path / f'catalog-{n}.db'}")
    return fa.Stack(store=fa.ArtifactStore(tmp_path / "artifacts"), catalog=catalog, project="demo")


def plant_record(stack: fa.Stack, name: str, body: dict) -> str:
    """A journal record written by someone with write access to the store (not via the API)."""
    rel = f"{JOURNAL_DIR}/2099-01-01/{name}.json"
    full = {"format": "flow-artifacts.journal", "format_version": 1, **body}
    stack.store.write_small(rel, json.dumps(full).encode())
    return rel


def tombstone(artifact_id: str, project: str, name: str, version: int) -> dict:
    return {
        "op": "delete",
        "at": datetime.now(timezone.utc).isoformat(),
        "artifact_id": artifact_id,
        "project": project,
        "name": name,
        "version": version,
        "step_run_id": None,
        "inputs": [],
    }


def lose_catalog(stack: fa.Stack) -> None:
    stack.catalog.close()
    os.remove(stack.catalog.engine.url.database)  # type: ignore[arg-type]


# --- issue 11 item 5: one bad record or manifest must be skipped and reported, not abort -------


def test_a_deeply_nested_journal_record_is_skipped_not_fatal(tmp_path) -> None:
    stack = sqlite_stack(tmp_path)
    art = fa.materialize(b"a", "model", "r1", "s", stack=stack)
    bad = f"{JOURNAL_DIR}/2099-01-01/deep.json"
    stack.store.write_small(bad, b"[" * 100_000 + b"]" * 100_000)
    lose_catalog(stack)
    rebuilt = sqlite_stack(tmp_path, 1)

    report = fa.reindex(stack=rebuilt)  # raises a raw RecursionError from json.loads

    assert bad in dict(report.skipped)
    assert [a.id for a in fa.list_artifacts(stack=rebuilt)] == [art.id]


def test_a_deeply_nested_manifest_is_skipped_not_fatal(tmp_path) -> None:
    stack = sqlite_stack(tmp_path)
    good = fa.materialize(b"a", "model", "r1", "s", stack=stack)
    bad = fa.materialize(b"b", "other", "r1", "s", stack=stack)
    Path(stack.store.root, bad.key + MANIFEST_SUFFIX).write_bytes(b"[" * 100_000 + b"]" * 100_000)
    lose_catalog(stack)
    rebuilt = sqlite_stack(tmp_path, 1)

    report = fa.reindex(stack=rebuilt)  # raises a raw RecursionError from Manifest.from_json

    assert bad.key + MANIFEST_SUFFIX in dict(report.skipped)
    assert [a.id for a in fa.list_artifacts(stack=rebuilt)] == [good.id]
    with pytest.raises(fa.FlowArtifactsError):  # an uncataloged store path: a clear error too
        fa.load(bad.key, stack=rebuilt)


def test_a_tombstone_with_an_impossible_version_is_skipped_not_fatal(tmp_path) -> None:
    stack = sqlite_stack(tmp_path)
    art = fa.materialize(b"a", "model", "r1", "s", stack=stack)
    forged = plant_record(
        stack, "20990101T000000.000000Z-huge", tombstone(str(uuid.uuid4()), "demo", "x", 10**20)
    )
    lose_catalog(stack)
    rebuilt = sqlite_stack(tmp_path, 1)

    report = fa.reindex(stack=rebuilt)  # raw OverflowError from SQLite, outside any try

    assert forged in dict(report.skipped)
    assert [a.id for a in fa.list_artifacts(stack=rebuilt)] == [art.id]


# --- a forged tombstone is followed where the catalog row and the store disagree -------------


def test_a_tombstone_that_misnames_its_artifact_is_reported_not_followed(tmp_path) -> None:
    """The tag replay refuses a record whose artifact has another name; the delete replay
    deletes whatever id it is given, silently, and reserves a version of a name that never
    existed (creating its project)."""
    stack = sqlite_stack(tmp_path)
    victim = fa.materialize(b"b", "model", "r1", "s", stack=stack)
    forged = plant_record(
        stack, "20990101T000000.000000Z-lie", tombstone(victim.id, "elsewhere", "nothing", 7)
    )

    report = fa.reindex(stack=stack)

    assert forged in dict(report.skipped)
    assert [a.id for a in fa.list_artifacts(stack=stack)] == [victim.id]
    assert "elsewhere" not in stack.catalog.projects()


def test_a_tombstone_cannot_push_a_name_past_the_versions_a_manifest_may_hold(tmp_path) -> None:
    """A planted tombstone reserves version 2**31-1; the next write gets version 2**31, which
    the catalog cannot reference and which `check_manifest` rejects, so the next reindex loses
    a committed artifact (on PostgreSQL the name can no longer be written at all)."""
    stack = sqlite_stack(tmp_path)
    fa.materialize(b"a", "model", "r1", "s", stack=stack)
    plant_record(
        stack,
        "20990101T000000.000000Z-max",
        tombstone(str(uuid.uuid4()), "demo", "model", 2**31 - 1),
    )
    fa.reindex(stack=stack)

    committed = fa.materialize(b"b", "model", "r2", "s", stack=stack)
    lose_catalog(stack)
    rebuilt = sqlite_stack(tmp_path, 1)
    report = fa.reindex(stack=rebuilt)

    assert committed.id in {a.id for a in fa.list_artifacts(stack=rebuilt)}, report.skipped


# --- issue 11 item 5: reindex equals the lost catalog, also with several writers -------------


def test_reindex_keeps_the_last_tag_when_writers_clocks_differ(tmp_path, monkeypatch) -> None:
    """Records sort by the writer's wall clock. A second host whose clock is 2 s behind moves a
    tag after the first host set it; the live catalog says v2, the rebuilt one v1."""
    stack = sqlite_stack(tmp_path)
    v1 = fa.materialize(b"1", "model", "r1", "s", stack=stack)
    v2 = fa.materialize(b"2", "model", "r2", "s", stack=stack)
    fa.tag(v1, "prod", stack=stack)
    with monkeypatch.context() as other_host:
        other_host.setattr(
            journal_module,
            "_next_stamp",
            lambda: datetime.now(timezone.utc) - timedelta(seconds=2),
        )
        fa.tag(v2, "prod", stack=stack)
    assert fa.get_artifact("store://demo/model:prod", stack=stack).version == 2
    lose_catalog(stack)
    rebuilt = sqlite_stack(tmp_path, 1)

    assert fa.reindex(stack=rebuilt).skipped == []
    assert fa.get_artifact("store://demo/model:prod", stack=rebuilt).version == 2


def test_two_manifests_with_the_same_version_are_reported_not_fatal(tmp_path) -> None:
    """Two catalogs over one store (issue 11 names this case) each hand out version 1 of a name
    at different keys. reindex then dies on the UNIQUE constraint with a raw SQLAlchemy
    IntegrityError (`catalog.restore` is only guarded against FlowArtifactsError) instead of
    skipping and reporting one of them and restoring the rest."""
    first, second = sqlite_stack(tmp_path, 0), sqlite_stack(tmp_path, 1)
    one = fa.materialize(b"a", "model", "r1", "s", stack=first)
    two = fa.materialize(b"b", "model", "r2", "s", stack=second)
    other = fa.materialize(b"c", "other", "r3", "s", stack=second)
    assert one.version == two.version == 1
    lose_catalog(first)
    rebuilt = sqlite_stack(tmp_path, 2)

    report = fa.reindex(stack=rebuilt)

    assert not report.ok
    assert other.id in {a.id for a in fa.list_artifacts(stack=rebuilt)}


@pytest.mark.parametrize(
    "params",
    [{"x": "a" * 5_000}, {"x": json.loads("[" * 150 + "]" * 150)}, {"x": "nul\u0000"}, ["x"]],
    ids=["long", "deep", "nul", "not-a-mapping"],
)
def test_a_step_run_record_with_params_no_live_call_records_is_skipped(tmp_path, params) -> None:
    """Recorded params are bounded as the live call bounds them (MAX_PARAM_CHARS, JSON depth)."""
    stack = sqlite_stack(tmp_path)
    art = fa.materialize(b"a", "model", "r1", "s", stack=stack)
    moment = datetime.now(timezone.utc).isoformat()
    run = {"status": "completed", "started": moment, "name": None, "pipeline": None}
    fields = {"id": str(uuid.uuid4()), "project": "demo", "run_id": "r9", "step": "big"}
    fields |= {"status": "completed", "params": params, "cache_key": None, "inputs": []}
    fields |= {"run": run, "host": None, "pid": None, "op": "step_run_start", "at": moment}
    planted = plant_record(stack, "20990101T000000.000000Z-params", fields)
    lose_catalog(stack)
    rebuilt = sqlite_stack(tmp_path, 1)

    report = fa.reindex(stack=rebuilt)

    assert planted in dict(report.skipped)
    assert [a.id for a in fa.list_artifacts(stack=rebuilt)] == [art.id]
    assert not [r for r in rebuilt.catalog.runs("demo") if r.run_id == "r9"]


def test_params_the_journal_would_refuse_are_recorded_as_descriptions(tmp_path) -> None:
    stack = sqlite_stack(tmp_path)

    @fa.step
    def odd(text: str, nested: list) -> None:
        return None

    with fa.run(project="demo", stack=stack) as run:
        odd("nul\u0000", json.loads("[" * 150 + "]" * 150))
    params = stack.catalog.step_runs_of_run("demo", run.id)[0].params
    assert params == {"text": "<builtins.str>", "nested": "<builtins.list>"}
    lose_catalog(stack)
    rebuilt = sqlite_stack(tmp_path, 1)
    assert fa.reindex(stack=rebuilt).skipped == []
    assert rebuilt.catalog.step_runs_of_run("demo", run.id)[0].params == params


def test_a_file_the_store_cannot_remove_is_logged(tmp_path, caplog) -> None:
    """remove_file does not raise (its callers are cleaning up after another error), but a
    failure is logged, with the store path it concerns."""
    stack = sqlite_stack(tmp_path)
    Path(stack.store.root, "stuck").mkdir(parents=True)
    with caplog.at_level(logging.WARNING, logger="flow_artifacts.store"):
        stack.store.remove_file("stuck")
    assert any("stuck" in r.getMessage() for r in caplog.records)
    stack.store.remove_file("never-there")  # missing is fine, and not logged
    assert not any("never-there" in r.getMessage() for r in caplog.records)
