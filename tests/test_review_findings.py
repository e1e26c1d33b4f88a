"""Findings of a hostile review of the issue 11 (journal, reindex, liveness) and issue 12 (trust
root, secrets) work. Each test fails on main as reviewed and says what the issues require."""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts import journal as journal_module
from flow_artifacts.catalog import Catalog, liveness
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


# --- issue 11 item 7: no crashed-run false positives ------------------------------------------


def test_an_open_run_on_an_in_memory_catalog_is_not_reported_crashed(monkeypatch) -> None:
    """The heartbeat is skipped for in-memory SQLite, but staleness still applies: a run longer
    than STALE_AFTER (2 min) reads as crashed while its writer, this process, is running it."""
    monkeypatch.setattr(liveness, "HEARTBEAT_S", 0.05)
    monkeypatch.setattr(liveness, "STALE_AFTER", timedelta(seconds=0.3))
    store = fa.ArtifactStore(f"memory://review-{uuid.uuid4().hex}")
    stack = fa.Stack(store=store, catalog=Catalog("sqlite://"), project="demo")
    with fa.run(project="demo", stack=stack) as run:
        time.sleep(1.0)  # several heartbeats and past STALE_AFTER
        statuses = [r["status"] for r in stack.catalog.runs("demo") if r["run_id"] == run.id]
    assert statuses == ["running"]


# --- issue 12 item 5: secrets never reach errors or recorded step errors ----------------------


def test_a_catalog_password_with_a_slash_is_masked_in_errors_and_repr() -> None:
    """SQLAlchemy accepts (and authenticates with) a password holding '/', '#' or '?'; the
    redaction module stops the user-info at the first '/', so the password is shown."""
    password = "Zq7/Kp9+Lm2x#Rt"
    url = f"postgresql+psycopg://fa:{password}@127.0.0.1:9/db"  # port 9: refused at once
    with pytest.raises(fa.FlowArtifactsError) as caught:
        Catalog(url)
    for fragment in ("Kp9+Lm2x", "Zq7/"):
        assert fragment not in str(caught.value)


def test_a_long_error_does_not_keep_a_secret_fragment_when_masks_shrink_it(tmp_path) -> None:
    """error_text cuts at 4x the limit, masks, then cuts at the limit: a header masked early
    shrinks the text so a secret cut short at the first cut lands inside the record."""
    token = f"s3cr3tCatalogPw-{uuid.uuid4().hex[:12]}"
    stack = fa.Stack.local(tmp_path / "fa")
    stack.secrets = (token,)
    head = "Authorization: " + "A" * 13_000 + "\n"

    @fa.step
    def verbose() -> None:
        before = len("ValueError: ") + len(head)
        raise ValueError(head + "y" * (16_000 - before - 8) + token)

    with pytest.raises(ValueError), fa.run(project="demo", stack=stack) as run:
        verbose()
    recorded = stack.catalog.step_runs_of_run("demo", run.id)[0].error
    assert token[:8] not in recorded
    assert token[:8] not in (run.error or "")
    stack.close()


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
