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


def test_a_framework_task_run_id_is_the_step_run_id_and_a_retry_its_next_attempt(local_stack):
    task_run = "0b7c9f1e-5d2a-4c3b-8e6f-1a2b3c4d5e6f"
    with fa.run(project="demo") as run:
        first = run.start_step("train-3f2", params={"lr": 0.1}, step_run_id=task_run)
        run.finish_step(first, "ConnectionError: flaky, password=hunter22")
        second = run.start_step("train-3f2", params={"lr": 0.1}, step_run_id=task_run)
        run.save_output(second, {"auc": 0.9}, "metrics")
        run.finish_step(second)
    (recorded,) = local_stack.catalog.step_runs_of_run("demo", run.id)
    assert (recorded.id, recorded.step) == (task_run, "train-3f2")
    assert (recorded.status, recorded.attempt, recorded.error) == ("completed", 2, None)
    assert [s.name for s in run.steps] == ["train-3f2"]
    with fa.run(project="demo") as other, pytest.raises(fa.InvalidName, match="step run id"):
        other.start_step("train", step_run_id="x" * 37)  # longer than an id column holds


def test_a_joined_run_records_steps_but_not_the_run(local_stack):
    worker = fa.Run(project="demo", run_id="orchestrated-7")
    worker.join()  # a step worker: the orchestrator's process starts and ends the run
    step_run = worker.start_step("partition_3")
    worker.finish_step(step_run)
    (run,) = local_stack.catalog.runs("demo")
    assert (run.run_id, run.status) == ("orchestrated-7", "external")
    (recorded,) = local_stack.catalog.step_runs_of_run("demo", "orchestrated-7")
    assert recorded.status == "completed"
    with pytest.raises(fa.FlowArtifactsError, match="already started"):
        worker.start()
