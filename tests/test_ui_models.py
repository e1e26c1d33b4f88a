"""Model and report pages' data: the producing step's parameters, the metrics reports beside a
model or made from it, and a metrics report across its versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.ui.app import create_app
from flow_artifacts.ui.metrics import MAX_REPORT_BYTES


class Model:
    """A stand-in for a trained model: pickled, so its kind is `model`."""

    def __init__(self, depth: int) -> None:
        self.depth = depth


def train_and_evaluate(stack: fa.Stack) -> dict[str, Any]:
    @fa.step(outputs=("model", "train_metrics"))
    def train(depth: int, secret_key: str) -> tuple[Model, dict]:
        return Model(depth), {"loss": 1.0 / depth, "epochs": 10}

    @fa.step(outputs="eval")
    def evaluate(model: Model) -> dict:
        return {"acc": 0.5 + model.depth / 100, "n": 200}

    @fa.step(outputs="notes")
    def describe(model: Model) -> dict:
        return {"text": "not metrics", "nested": {"a": 1}}

    @fa.pipeline(project="ml")
    def flow(depth: int) -> Any:
        model, _ = train(depth, "hunter2-secret-value")
        evaluate(model)
        describe(model)

    with fa.use_stack(stack):
        runs = [flow(depth) for depth in (2, 4, 8)]
    return {"runs": runs, "model": runs[-1].artifacts["model"], "eval": runs[-1].artifacts["eval"]}


@pytest.fixture
def client(stack: fa.Stack):
    with TestClient(create_app(stack), base_url="http://127.0.0.1") as client:
        yield client


def test_a_model_page_has_its_parameters_and_the_metrics_beside_and_after_it(stack, client):
    made = train_and_evaluate(stack)
    detail = client.get(f"/api/artifacts/{made['model'].id}").json()
    assert detail["kind"] == "model"
    assert detail["producer"]["params"] == {"depth": 8, "secret_key": "***"}
    related = {r["ref"]: r for r in detail["metrics"]}
    assert set(related) == {"ml/train_metrics@3", "ml/eval@3"}  # notes is nested: not metrics
    assert related["ml/train_metrics@3"]["relation"] == "beside"
    assert related["ml/eval@3"] == {
        "id": made["eval"].id,
        "ref": "ml/eval@3",
        "relation": "made from it",
        "metrics": {"acc": 0.58, "n": 200},
    }


def test_a_metrics_report_has_its_values_across_versions(stack, client):
    made = train_and_evaluate(stack)
    found = client.get(f"/api/metrics/{made['eval'].id}").json()
    assert found["metrics"] == {"acc": 0.58, "n": 200}
    assert [v["version"] for v in found["versions"]] == [1, 2, 3]
    assert [v["metrics"]["acc"] for v in found["versions"]] == [0.52, 0.54, 0.58]
    notes = made["runs"][-1].artifacts["notes"]
    assert client.get(f"/api/metrics/{notes.id}").json() == {"metrics": None, "versions": []}


def test_what_is_not_a_small_flat_numeric_report_is_not_metrics(stack, client, tmp_path: Path):
    cases = {
        "flags": {"ok": True, "n": 1},  # booleans are not measurements
        "empty": {},
        "listed": [1, 2, 3],
        "big": {f"m{i}": i for i in range(MAX_REPORT_BYTES // 8)},
    }
    for name, value in cases.items():
        art = fa.materialize(value, name, "r1", "s", "demo", stack=stack)
        assert client.get(f"/api/metrics/{art.id}").json()["metrics"] is None, name


def test_a_tampered_report_is_not_shown_as_metrics(stack, client):
    art = fa.materialize({"acc": 0.9}, "eval", "r1", "s", "demo", stack=stack)
    Path(art.path).write_text('{"acc": 1.0}')  # same size, other bytes
    assert client.get(f"/api/metrics/{art.id}").json()["metrics"] is None
