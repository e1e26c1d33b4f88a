"""`explain` tells what `materialize` does: for every built-in type, under every stack override and
pickle policy, the materializer explained is the one written with, or both refuse."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.cli.main import cli
from flow_artifacts.errors import FlowArtifactsError


def samples(tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "file.txt"
    path.write_text("content")
    return {
        "frame": pd.DataFrame({"a": [1, 2]}),
        "series": pd.Series([1, 2]),
        "table": pa.table({"a": [1, 2]}),
        "array": np.arange(3),
        "object-array": np.array([object()], dtype=object),
        "dict": {"a": 1},
        "set-in-dict": {"a": {1, 2}},
        "bytes": b"raw",
        "path": path,
        "function": len,
    }


OVERRIDES = [
    {},
    {"pandas.DataFrame": "cloudpickle"},
    {"pyarrow.Table": "cloudpickle"},
    {"pyarrow.lib.Table": "cloudpickle"},
    {"numpy.ndarray": "cloudpickle"},
    {"builtins.dict": "cloudpickle"},
]
POLICIES = [
    (True, ()),
    (False, ()),
    ("trusted-projects", ("trusted",)),
]
PROJECTS = ["trusted", "other"]


def outcome(action) -> str:
    """The materializer id chosen, or the error class when none could be."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return action()
        except FlowArtifactsError as exc:
            return type(exc).__name__


def explained(explanation: fa.Explanation) -> str:
    if explanation.error is not None:
        return type(explanation.error).__name__
    return explanation.materializer_id or "NoMaterializerFound"


@pytest.mark.parametrize("overrides", OVERRIDES, ids=lambda o: ",".join(o) or "none")
@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: str(p[0]))
def test_explain_names_what_materialize_writes(tmp_path, overrides, policy):
    allow_pickle, trusted = policy
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    stack = fa.Stack(
        store=fa.ArtifactStore(tmp_path / "artifacts"),
        catalog=catalog,
        overrides=overrides,
        allow_pickle=allow_pickle,
        trusted_projects=trusted,
    )
    try:
        for (label, obj), project in itertools.product(samples(tmp_path).items(), PROJECTS):
            said = explained(fa.explain(obj, project=project, stack=stack))
            did = outcome(
                lambda obj=obj, label=label, project=project: (
                    fa.materialize(obj, label, "r1", "s", project, stack=stack).materializer
                )
            )
            assert said == did, (label, project)
            if not isinstance(obj, Path):  # a type explains what its instances would get
                by_type = explained(fa.explain(type(obj), project=project, stack=stack))
                if obj is not len and label not in {"object-array", "set-in-dict"}:
                    assert by_type == did, (label, project)  # values no one declines
    finally:
        catalog.close()


def test_cli_explain_honours_a_short_type_override(tmp_path, monkeypatch):
    """`flow-artifacts explain pyarrow.Table` reports the `pyarrow.Table:` override materialize
    honours."""
    (tmp_path / "flow_artifacts.yaml").write_text(
        "artifact_store: {url: ./artifacts}\n"
        'catalog: {url: "sqlite:///catalog.db"}\n'
        "materializers: {pyarrow.Table: cloudpickle}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOW_ARTIFACTS_STACK", raising=False)
    result = CliRunner().invoke(cli, ["explain", "pyarrow.Table"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("pyarrow.lib.Table -> cloudpickle: stack override")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert fa.materialize(pa.table({"a": [1]}), "t", "r", "s").materializer == "cloudpickle"


def test_explain_never_offers_a_pickle_the_policy_refuses(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    stack = fa.Stack(
        store=fa.ArtifactStore(tmp_path / "artifacts"),
        catalog=catalog,
        allow_pickle="trusted-projects",
        trusted_projects=("ml",),
    )
    try:
        assert fa.explain(len, project="ml", stack=stack).materializer_id == "cloudpickle"
        assert fa.explain(len, stack=stack).materializer_id is None  # project "default"
        with pytest.raises(fa.NoMaterializerFound):
            fa.materialize(len, "f", "r", "s", stack=stack)
    finally:
        catalog.close()
