"""Steps and pipelines: runs, outputs, automatic lineage, parameters, failures, options."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

import flow_artifacts as fa
from flow_artifacts import pipeline, step


@step
def load_raw(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"x": range(rows), "y": [2 * i + 1 for i in range(rows)]})


@step(outputs=("train", "test"))
def split(df: pd.DataFrame, frac: float = 0.8):
    cut = int(len(df) * frac)
    return df.iloc[:cut], df.iloc[cut:]


@step
def fit(train: pd.DataFrame) -> dict:
    return {"slope": float(train["y"].diff().mean())}


@step
def evaluate(model: dict, test: pd.DataFrame) -> dict:
    return {"rows": len(test), "slope": model["slope"]}


@pipeline(project="demo")
def training(rows: int):
    train, test = split(load_raw(rows))
    return evaluate(fit(train), test)


def _ids(artifacts) -> set[str]:
    return {a.id for a in artifacts}


def test_pipeline_records_one_run_with_its_steps_artifacts_and_lineage(local_stack):
    run = training(10)

    assert uuid.UUID(run.id) and run.status == "completed" and run.error is None
    assert run.result == {"rows": 2, "slope": 2.0}
    assert list(run.artifacts) == ["load_raw", "train", "test", "fit", "evaluate"]
    assert run.artifacts["evaluate"].load() == run.result
    assert run.artifacts["train"].key == f"demo/{run.id}/split/train"
    assert run.artifacts["load_raw"].key == f"demo/{run.id}/load_raw/load_raw"
    assert [s.name for s in run.steps] == ["load_raw", "split", "fit", "evaluate"]
    assert all(s.status == "completed" and s.duration >= 0 for s in run.steps)

    graph = fa.get_artifact("store://demo/train").lineage()
    raw, train = run.artifacts["load_raw"], run.artifacts["train"]
    assert set(graph.artifacts) == {raw.id, train.id}
    by_step = {s.step: s for s in graph.step_runs.values()}
    assert set(by_step) == {"split", "load_raw"}
    assert graph.edges == {
        (by_step["load_raw"].id, raw.id),
        (raw.id, by_step["split"].id),
        (by_step["split"].id, train.id),
    }

    recorded = {s.step: s for s in local_stack.catalog.step_runs_of_run("demo", run.id)}
    assert recorded["split"].params == {"df": "<artifact store://demo/load_raw@1>", "frac": 0.8}
    assert recorded["evaluate"].inputs and set(recorded["evaluate"].inputs) == _ids(
        [run.artifacts["fit"], run.artifacts["test"]]
    )
    assert all(s.status == "completed" and s.ended >= s.started for s in recorded.values())
    [row] = local_stack.catalog.runs("demo")
    assert (row.run_id, row.status, row.name, row.pipeline) == (
        run.id,
        "completed",
        "training",
        "training",
    )


def test_steps_return_the_real_objects_in_the_shape_declared(local_stack):
    @step(outputs=("a", "b"))
    def as_dict():
        return {"b": [2], "a": [1]}

    @step(outputs="model")
    def named():
        return {"weights": [0.5]}

    @step
    def side_effect_only(log: list) -> None:
        log.append("ran")

    with fa.run(project="demo") as run:
        pair = split(load_raw(5))
        assert isinstance(pair.train, pd.DataFrame) and pair["test"] is pair[1]
        a, b = as_dict()
        assert (a, b) == ([1], [2]) and as_dict().as_dict() == {"a": [1], "b": [2]}
        assert named() == {"weights": [0.5]}
        log: list[str] = []
        assert side_effect_only(log) is None and log == ["ran"]

    assert run.artifacts["model"].name == "model"
    assert run.artifacts["a"].load() == [1]
    assert "side_effect_only" not in run.artifacts
    assert [s.outputs for s in run.steps if s.step == "side_effect_only"] == [{}]


def test_a_step_called_twice_in_a_run_gets_distinct_step_runs_and_paths(local_stack):
    @step
    def prep(n: int) -> dict:
        return {"n": n}

    with fa.run(project="demo") as run:
        prep(1)
        prep(2)
        prep(3)

    assert [s.name for s in run.steps] == ["prep", "prep_2", "prep_3"]
    assert len({s.id for s in run.steps}) == 3
    assert run.artifacts["prep_2"].key == f"demo/{run.id}/prep_2/prep_2"
    assert run.artifacts["prep_3"].load() == {"n": 3}
    recorded = local_stack.catalog.step_runs_of_run("demo", run.id)
    assert sorted(s.step for s in recorded) == ["prep", "prep_2", "prep_3"]


def test_lineage_follows_objects_through_nested_containers(local_stack):
    @step
    def make(i: int) -> pd.DataFrame:
        return pd.DataFrame({"i": [i]})

    @step
    def summary(i: int) -> dict:  # a dict cannot be weakly referenced: tracked by the run
        return {"i": i}

    @step
    def combine(frames: dict, extra: list) -> dict:
        total = sum(
            int(f["i"].sum())
            for f in [frames["first"][0], frames["first"][1][0], frames["rest"]["c"]]
        )
        return {"total": total + sum(d["i"] for d in extra)}

    with fa.run(project="demo") as run:
        a, b, c = make(1), make(2), make(3)
        s = summary(10)
        out = combine({"first": [a, (b,)], "rest": {"c": c}}, extra=[s])

    assert out == {"total": 16}
    combined = run.artifacts["combine"]
    expected = _ids(run.artifacts[k] for k in ("make", "make_2", "make_3", "summary"))
    [producer] = [s for s in run.steps if s.step == "combine"]
    assert _ids(producer.inputs) == expected
    graph = combined.lineage(depth=1)
    assert set(graph.artifacts) == expected | {combined.id}


def test_equal_scalars_are_not_mistaken_for_step_outputs(local_stack):
    @step
    def count() -> int:
        return 5

    @step
    def double(n: int) -> int:
        return 2 * n

    with fa.run(project="demo") as run:
        count()
        assert double(5) == 10  # the same small int object, but not count's output

    [doubled] = [s for s in run.steps if s.step == "double"]
    assert doubled.inputs == [] and doubled.params == {"n": 5}


def test_artifacts_and_references_are_loaded_and_recorded_as_inputs(local_stack):
    clean = fa.materialize(pd.DataFrame({"v": [1, 2, 3]}), "clean", "r0", "prep", "demo")
    fa.tag(clean, "prod")
    report = fa.materialize({"ok": True}, "report", "r0", "check", "demo")

    @step
    def use(df: pd.DataFrame, others: list) -> dict:
        assert isinstance(df, pd.DataFrame) and others == [{"ok": True}]
        return {"total": int(df["v"].sum())}

    with fa.run(project="demo") as run:
        assert use(fa.ref("store://demo/clean:prod"), [report]) == {"total": 6}

    [record] = run.steps
    assert _ids(record.inputs) == {clean.id, report.id}
    assert record.params["df"] == "<artifact store://demo/clean@1>"
    assert set(run.artifacts["use"].inputs) == {clean.id, report.id}
    with pytest.raises(fa.InvalidName):
        fa.ref("not a reference")
    with fa.run(project="demo"), pytest.raises(fa.ArtifactNotFound):
        use(fa.ref("store://demo/missing"), [])


class Boom(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


raised: list[Boom] = []


@step
def explode(df: pd.DataFrame) -> pd.DataFrame:
    raised.append(Boom("the model diverged", code=7))
    raise raised[-1]


@pipeline(project="demo")
def doomed():
    fit(explode(load_raw(4)))


def test_a_failing_step_fails_the_run_keeps_earlier_artifacts_and_reraises(local_stack):
    with pytest.raises(Boom) as caught:
        doomed()
    assert caught.value is raised[-1] and caught.value.code == 7

    [row] = local_stack.catalog.runs("demo")
    assert row.status == "failed" and row.error == "Boom: the model diverged"
    steps = {s.step: s for s in local_stack.catalog.step_runs_of_run("demo", row.run_id)}
    assert set(steps) == {"load_raw", "explode"}  # fit never started
    assert steps["explode"].status == "failed"
    assert steps["explode"].error.startswith("Boom: the model diverged\n\nTraceback")
    assert steps["explode"].ended is not None and steps["explode"].outputs == []
    kept = fa.get_artifact("store://demo/load_raw")
    assert kept.run_id == row.run_id and len(kept.load()) == 4

    with pytest.raises(Boom), fa.run(project="demo") as run:
        explode(load_raw(2))
    assert run.status == "failed" and run.error == "Boom: the model diverged"
    assert [s.status for s in run.steps] == ["completed", "failed"]
    assert run.artifacts["load_raw"].load().shape == (2, 2)


def test_steps_outside_a_run_get_an_implicit_run_each(local_stack):
    frame = load_raw(3)
    model = fit(frame)

    assert model == {"slope": 2.0}
    raw, fitted = (next(fa.list_artifacts("default", name=n)) for n in ("load_raw", "fit"))
    assert raw.run_id != fitted.run_id
    assert raw.project == "default" and raw.key == f"default/{raw.run_id}/load_raw/load_raw"
    assert fitted.inputs == [raw.id]  # the DataFrame is known beyond its run
    statuses = {r.run_id: r.status for r in local_stack.catalog.runs("default")}
    assert statuses == {raw.run_id: "completed", fitted.run_id: "completed"}


def test_disabled_steps_and_pipelines_are_plain_functions(local_stack, monkeypatch):
    @step(enabled=False)
    def plain(x: int) -> dict:
        return {"x": x}

    assert plain(1) == {"x": 1}
    assert local_stack.catalog.count() == 0

    monkeypatch.setenv("FLOW_ARTIFACTS_DISABLED", "1")
    run = training(10)
    assert run.result == {"rows": 2, "slope": 2.0} and run.status == "completed"
    assert not run.recording and run.artifacts == {}
    assert local_stack.catalog.count() == 0 and local_stack.catalog.runs() == []

    monkeypatch.setenv("FLOW_ARTIFACTS_DISABLED", "maybe")
    with pytest.raises(fa.ConfigError, match="FLOW_ARTIFACTS_DISABLED='maybe'.*allowed: 0, 1"):
        load_raw(1)


def test_materializers_labels_and_kind_per_output(local_stack):
    @step(
        outputs=("train", "test"),
        materializers={"train": "cloudpickle"},
        labels={"team": "risk"},
        kind="report",
    )
    def halves(df: pd.DataFrame):
        return df.iloc[:1], df.iloc[1:]

    @step(materializers={pd.DataFrame: "cloudpickle"})
    def by_type(df: pd.DataFrame) -> pd.DataFrame:
        return df

    with fa.run(project="demo") as run, pytest.warns(fa.PickleFallbackWarning):
        halves(load_raw(2))
        by_type(load_raw(2))

    train, test = run.artifacts["train"], run.artifacts["test"]
    assert (train.materializer, test.materializer) == ("cloudpickle", "pandas.parquet")
    assert train.labels == test.labels == {"team": "risk"}
    assert train.kind == test.kind == "report"
    assert [a.uri for a in fa.list_artifacts("demo", labels={"team": "risk"}, kind="report")]
    assert run.artifacts["by_type"].materializer == "cloudpickle"
    assert run.artifacts["load_raw"].materializer == "pandas.parquet"

    with pytest.raises(fa.ConfigError, match="neither an output nor a type; allowed: outputs a"):
        step(outputs=("a",), materializers={"b": "cloudpickle"})(lambda: 1)
    with pytest.raises(fa.ConfigError, match="unknown kind 'thing'; allowed: dataset, model"):
        step(kind="thing")(lambda: 1)


def test_outputs_that_do_not_match_the_declaration_fail_the_step(local_stack):
    @step(outputs=("a", "b"))
    def three():
        return 1, 2, 3

    expected = "'three' declares outputs \\['a', 'b'\\].*returned 3 values"
    with pytest.raises(fa.StepOutputError, match=expected), fa.run(project="demo") as run:
        three()
    assert run.steps[0].status == "failed" and "StepOutputError" in run.steps[0].error


def test_parameters_are_recorded_as_json_or_type_names_and_secrets_masked(local_stack, tmp_path):
    @step
    def configure(df: pd.DataFrame, n: int, options: dict, api_token: str, ratio: float) -> dict:
        return {"n": n}

    secret = "tok-" + uuid.uuid4().hex
    with fa.run(project="demo") as run:
        configure(
            pd.DataFrame({"a": [1]}),
            3,
            {"deep": [1, "x"], "password": secret},
            secret,
            float("nan"),
        )

    recorded = local_stack.catalog.step_run(run.steps[0].id).params
    assert recorded == {
        "df": "<pandas.DataFrame>",
        "n": 3,
        "options": {"deep": [1, "x"], "password": "***"},
        "api_token": "***",
        "ratio": "nan",
    }
    for path in (tmp_path / "fa").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_a_run_id_is_used_once(local_stack):
    @step
    def one() -> dict:
        return {"one": 1}

    with fa.run(project="demo", run_id="nightly-1"):
        one()
    with pytest.raises(fa.ConfigError, match="run 'nightly-1' already has recorded steps"):
        with fa.run(project="demo", run_id="nightly-1"):
            one()
    with fa.run(project="other", run_id="nightly-1") as elsewhere:  # ids are per project
        one()
    assert elsewhere.status == "completed" and list(elsewhere.artifacts) == ["one"]


def test_steps_inside_a_nested_run_belong_to_it_and_still_see_outer_outputs(local_stack):
    with fa.run(project="demo") as outer:
        raw = load_raw(3)
        with fa.run(project="demo", name="inner") as inner:
            fit(raw)
        evaluate({"slope": 1.0}, raw)

    assert list(inner.artifacts) == ["fit"] and "fit" not in outer.artifacts
    assert inner.artifacts["fit"].inputs == [outer.artifacts["load_raw"].id]
    assert inner.artifacts["fit"].run_id == inner.id != outer.id
    assert fa.current_run() is None


def test_step_run_names_stay_unique_next_to_a_step_named_like_a_repeat(local_stack):
    @step
    def prep() -> dict:
        return {"from": "prep"}

    @step(name="prep_2")
    def other() -> dict:
        return {"from": "other"}

    with fa.run(project="demo") as run:
        prep()
        other()
        prep()
        prep()

    assert [s.name for s in run.steps] == ["prep", "prep_2", "prep_3", "prep_4"]
    assert run.artifacts["prep_2"].load() == {"from": "other"}
    assert run.artifacts["prep_3"].load() == {"from": "prep"}
