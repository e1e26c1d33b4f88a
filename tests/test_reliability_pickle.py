"""Pickles run code when loaded: only recorded, unmodified ones are loaded, and only if allowed."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import flow_artifacts as fa


class Model:
    def __init__(self, weights: list[float]) -> None:
        self.weights = weights


class Payload:
    """Unpickling this creates a file: proof that code from the bytes ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


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
