"""Pickles run code when loaded: only recorded, unmodified ones are loaded, and only if allowed."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.manifest import MANIFEST_SUFFIX
from tests.pickle_payload import Payload


class Model:
    def __init__(self, weights: list[float]) -> None:
        self.weights = weights


def test_a_recorded_pickle_loads(stack):
    art = fa.materialize(Model([1.0, 2.0]), "model", "r1", "fit", "demo", stack=stack)
    assert art.materializer == "cloudpickle"
    assert fa.load(art.uri, stack=stack).weights == [1.0, 2.0]


def test_a_tampered_pickle_is_refused_before_any_code_runs(stack, tmp_path):
    art = fa.materialize(Model([1.0]), "model", "r1", "fit", "demo", stack=stack)
    marker = tmp_path / "code-ran"
    Path(art.path).write_bytes(pickle.dumps(Payload(marker)))
    for verify in (True, False):  # verify=False does not apply to pickles
        with pytest.raises(fa.IntegrityError, match="model"):
            art.load(verify=verify)
    assert not marker.exists()


def test_a_pickle_found_in_the_store_without_a_catalog_row_is_refused(stack, tmp_path):
    marker = tmp_path / "code-ran"
    stray = stack.store.materialize(Payload(marker), "stray", "r1", "s", "demo")
    handle = fa.get_artifact(stray.path, stack=stack)  # found by its path, not in the catalog
    with pytest.raises(fa.PickleRefused, match="without a catalog row"):
        handle.load()
    assert not marker.exists()


def test_a_stack_that_refuses_pickles_neither_writes_nor_loads_them(stack):
    art = fa.materialize(Model([1.0]), "model", "r1", "fit", "demo", stack=stack)
    strict = fa.Stack(store=stack.store, catalog=stack.catalog, allow_pickle=False)
    with pytest.raises(fa.PickleRefused, match="allow_pickle: false"):
        fa.load(art.uri, stack=strict)
    with pytest.raises(fa.NoMaterializerFound, match="pickle"):
        fa.materialize(Model([2.0]), "model", "r2", "fit", "demo", stack=strict)
    report = fa.materialize({"safe": True}, "report", "r2", "s", "demo", stack=strict)
    assert fa.load(report, stack=strict) == {"safe": True}


def test_trusted_projects_limit_pickles_to_the_listed_projects(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flow_artifacts.yaml").write_text(
        "project: models\nallow_pickle: trusted-projects\ntrusted_projects: [models]\n"
    )
    stack = fa.get_stack()
    assert stack.pickles_allowed("models") and not stack.pickles_allowed("scratch")
    trusted = fa.materialize(Model([1.0]), "model", "r1", "fit", "models")
    assert fa.load(trusted.uri).weights == [1.0]
    with pytest.raises(fa.NoMaterializerFound):
        fa.materialize(Model([2.0]), "model", "r1", "fit", "scratch")
    permissive = fa.Stack(store=stack.store, catalog=stack.catalog)
    elsewhere = fa.materialize(Model([3.0]), "model", "r2", "fit", "scratch", stack=permissive)
    with pytest.raises(fa.PickleRefused, match="trusts pickles only in projects models"):
        fa.load(elsewhere.uri)


def rebuilt(stack: fa.Stack, path: Path, **reindex: bool) -> fa.Stack:
    """A new catalog over the same store, rebuilt by reindex (as after losing the catalog)."""
    other = fa.Stack(store=stack.store, catalog=Catalog(f"sqlite:///{path}"))
    assert fa.reindex(stack=other, **reindex).ok
    return other


def test_a_pickle_restored_by_reindex_loads_only_once_trusted(stack, tmp_path):
    art = fa.materialize(Model([1.0]), "model", "r1", "fit", "demo", stack=stack)
    fa.materialize({"safe": True}, "report", "r1", "s", "demo", stack=stack)
    other = rebuilt(stack, tmp_path / "rebuilt.db")
    with pytest.raises(fa.PickleRefused, match="reindex restored from the store") as refused:
        fa.load(art.uri, stack=other)
    assert "fa.trust_pickle('store://demo/model@1')" in str(refused.value)
    assert "flow-artifacts trust store://demo/model@1" in str(refused.value)
    assert fa.load("store://demo/report", stack=other) == {"safe": True}  # not a pickle

    assert fa.trust_pickle(art.uri, stack=other).id == art.id
    assert fa.load(art.uri, stack=other).weights == [1.0]
    reopened = fa.Stack(store=stack.store, catalog=Catalog(other.catalog.url))
    assert fa.load(art.id, stack=reopened).weights == [1.0]  # kept in the catalog


def test_reindex_can_trust_every_restored_pickle_at_once(stack, tmp_path):
    art = fa.materialize(Model([2.0]), "model", "r1", "fit", "demo", stack=stack)
    other = rebuilt(stack, tmp_path / "rebuilt.db", trust_pickles=True)
    assert fa.load(art.uri, stack=other).weights == [2.0]


def test_a_bytes_artifact_relabelled_as_a_pickle_never_runs_after_reindex(stack, tmp_path):
    """The checksum stays valid (the bytes are unchanged), so only the trust flag stops it."""
    marker = tmp_path / "code-ran"
    blob = fa.materialize(pickle.dumps(Payload(marker)), "blob", "r1", "s", "demo", stack=stack)
    path = Path(stack.store.full_path(blob.key + MANIFEST_SUFFIX))
    body = json.loads(path.read_text())
    path.write_text(json.dumps({**body, "materializer": "cloudpickle"}))
    other = rebuilt(stack, tmp_path / "rebuilt.db")
    assert fa.get_artifact(blob.uri, stack=other).materializer == "cloudpickle"
    for ref in (blob.uri, blob.id, blob.key):
        with pytest.raises(fa.PickleRefused, match="reindex restored from the store"):
            fa.load(ref, stack=other)
    assert not marker.exists()
    assert fa.load(blob.uri, stack=stack) == pickle.dumps(Payload(marker))  # its own catalog


def test_trusting_a_pickle_is_never_journaled_so_the_store_cannot_grant_it(stack, tmp_path):
    art = fa.materialize(Model([3.0]), "model", "r1", "fit", "demo", stack=stack)
    first = rebuilt(stack, tmp_path / "first.db")
    records, _ = stack.store.journal.read()
    fa.trust_pickle(art.uri, stack=first)
    assert stack.store.journal.read()[0] == records  # nothing written for the store to replay
    second = rebuilt(stack, tmp_path / "second.db")
    with pytest.raises(fa.PickleRefused, match="reindex restored from the store"):
        fa.load(art.uri, stack=second)


def test_trust_pickle_needs_a_catalog_row(stack, tmp_path):
    stray = stack.store.materialize(Model([1.0]), "stray", "r1", "s", "demo")
    with pytest.raises(fa.ArtifactNotFound, match="not in the catalog; run `flow-artifacts"):
        fa.trust_pickle(stray.path, stack=stack)
    with pytest.raises(fa.ArtifactNotFound):
        fa.trust_pickle("store://demo/nothing", stack=stack)
    with pytest.raises(fa.PickleRefused, match="without a catalog row"):
        fa.get_artifact(stray.path, stack=stack).load()
