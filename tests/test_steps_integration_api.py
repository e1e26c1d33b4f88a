"""The run methods framework integrations use: step runs of tasks that are not `@step` functions."""

from __future__ import annotations

import pandas as pd
import pytest

import flow_artifacts as fa


def test_a_framework_task_is_recorded_as_a_step_run_with_lineage(local_stack):
    raw = fa.materialize(pd.DataFrame({"a": [1, 2]}), "raw", "seed", "load", project="demo")
    with fa.run(project="demo", name="nightly", run_id="framework-run-1") as run:
        node = run.start_step("clean", params={"ratio": 0.5, "password": "hunter22"}, inputs=[raw])
        clean = run.save_output(node, pd.DataFrame({"a": [1]}), "clean", labels={"from": "kedro"})
        run.finish_step(node)
        again = run.start_step("clean")
    assert again.name == "clean_2"
    assert clean.run_id == "framework-run-1" and clean.step == "clean"
    assert clean.labels == {"from": "kedro"}
    assert set(clean.lineage().artifacts) == {raw.id, clean.id}
    assert run.artifacts["clean"].id == clean.id
    recorded = {s.step: s for s in local_stack.catalog.step_runs_of_run("demo", "framework-run-1")}
    assert recorded["clean"].status == "completed"
    assert recorded["clean"].params == {"ratio": 0.5, "password": "***"}
    assert recorded["clean"].inputs == [raw.id] and recorded["clean"].outputs == [clean.id]
    assert recorded["clean_2"].status == "running"  # never finished: left as it was


def test_a_failed_task_records_its_masked_error(local_stack):
    with fa.run(project="demo") as run:
        node = run.start_step("train")
        run.finish_step(node, ValueError("cannot reach postgresql://u:s3cretpw@db/x"))
    (recorded,) = local_stack.catalog.step_runs_of_run("demo", run.id)
    assert recorded.status == "failed" and node.status == "failed"
    assert "s3cretpw" not in recorded.error and "ValueError" in recorded.error


def test_steps_need_a_started_run(local_stack):
    run = fa.run(project="demo")
    with pytest.raises(fa.FlowArtifactsError, match="not recording"):
        run.start_step("train")
    with run:
        pass
    with pytest.raises(fa.FlowArtifactsError, match="not recording"):
        run.start_step("train")


def test_a_bad_step_name_is_refused_before_anything_is_recorded(local_stack):
    with fa.run(project="demo") as run:
        with pytest.raises(fa.InvalidName):
            run.start_step("a/b")
    assert local_stack.catalog.step_runs_of_run("demo", run.id) == []


def test_an_input_from_another_store_is_not_recorded_as_lineage(local_stack, tmp_path, caplog):
    elsewhere = fa.Stack.local(tmp_path / "elsewhere")
    foreign = fa.materialize({"a": 1}, "foreign", "r", "s", project="demo", stack=elsewhere)
    with fa.run(project="demo") as run:
        node = run.start_step("node", inputs=[foreign])
        notes = run.save_output(node, {"b": 2}, "notes", inputs=[foreign])
        run.finish_step(node)
    assert node.inputs == [] and set(notes.lineage().artifacts) == {notes.id}
    assert "from another store" in caplog.text
    elsewhere.close()
