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


def test_deferred_writes_wait_for_the_next_step_start_or_the_run_end(local_stack):
    catalog = local_stack.catalog
    run = fa.Run(project="demo", run_id="hooked-1", pipeline="nightly")
    run.defer_writes()  # an orchestrator that reports each task's start and end (Dagster)
    run.start()
    assert catalog.runs("demo") == []  # the start waits for the first step's
    first = run.start_step("extract")
    assert catalog.run("demo", "hooked-1").status == "running"
    run.finish_step(first)
    assert catalog.step_run(first.id).status == "running"  # its end waits for the next start
    second = run.start_step("load")
    assert catalog.step_run(first.id).status == "completed"
    run.finish_step(second, ValueError("load failed"))
    run.finish("load failed")
    assert catalog.step_run(second.id).status == "failed"
    recorded = catalog.run("demo", "hooked-1")
    assert (recorded.status, recorded.pipeline, recorded.error) == (
        "failed",
        "nightly",
        "load failed",
    )


def test_a_batch_that_cannot_commit_leaves_no_trace(local_stack):
    catalog, journal = local_stack.catalog, local_stack.store.journal
    with fa.run(project="demo", run_id="taken") as run:
        run.finish_step(run.start_step("extract"))
    records_before = len(journal.read()[0])
    batch = catalog.batch(journal)
    catalog.start_run("demo", "fresh", journal=journal, batch=batch)
    catalog.start_step_run("demo", "taken", "extract", journal=journal, batch=batch)  # taken
    with pytest.raises(fa.ConfigError, match="already has a step run named"):
        batch.commit()
    assert [r.run_id for r in catalog.runs("demo")] == ["taken"]  # nor the fresh run
    assert len(journal.read()[0]) == records_before  # and no journal record of either
    batch.commit()  # nothing left to commit


def test_a_flow_run_resumed_in_another_process_goes_on_in_its_run(local_stack):
    with fa.run(project="demo", run_id="flow-run-9") as first_attempt:
        first_attempt.finish_step(first_attempt.start_step("train"))
    with pytest.raises(fa.ConfigError, match="run ids are unique"):
        fa.Run(project="demo", run_id="flow-run-9").start()  # a mistaken reuse
    resumed = fa.Run(project="demo", run_id="flow-run-9")
    resumed.start(resume=True)  # the orchestrator runs the same run again
    again = resumed.start_step("train")
    assert again.name == "train_2"
    resumed.finish_step(again)
    resumed.finish()
    steps = local_stack.catalog.step_runs_of_run("demo", "flow-run-9")
    assert sorted(s.step for s in steps) == ["train", "train_2"]
    assert local_stack.catalog.run("demo", "flow-run-9").status == "completed"


def test_a_failed_run_resumed_reads_running_without_its_earlier_end(local_stack):
    with pytest.raises(RuntimeError), fa.run(project="demo", run_id="flow-run-10") as first:
        first.finish_step(first.start_step("train"))
        raise RuntimeError("worker lost")
    failed = local_stack.catalog.run("demo", "flow-run-10")
    assert failed.status == "failed" and failed.ended is not None and failed.error
    resumed = fa.Run(project="demo", run_id="flow-run-10")
    resumed.start(resume=True)
    running = local_stack.catalog.run("demo", "flow-run-10")
    assert running.status == "running"
    assert running.ended is None and not running.error  # the earlier attempt's end is not its
    resumed.finish()
    done = local_stack.catalog.run("demo", "flow-run-10")
    assert done.status == "completed" and done.ended is not None and not done.error
    # the store alone gives the same run: its journal replays both attempts in order
    rebuilt = fa.Stack(
        store=fa.ArtifactStore(local_stack.store.url), catalog=fa.Catalog("sqlite://")
    )
    fa.reindex(stack=rebuilt)
    replayed = rebuilt.catalog.run("demo", "flow-run-10")
    assert (replayed.status, replayed.ended, replayed.error) == ("completed", done.ended, None)


def test_a_run_id_is_taken_by_its_steps_only_and_per_project_on_every_catalog(stack):
    def finished(run: fa.Run, failure: str | None = None) -> fa.Run:
        run.finish_step(run.start_step("extract"))
        run.finish(failure)
        return run

    run = fa.Run(project="demo", run_id="r-1", stack=stack)
    run.defer_writes()  # as Dagster's runs are written
    run.start()
    finished(run, "lost")
    recorded = stack.catalog.run("demo", "r-1")
    assert (recorded.status, recorded.error) == ("failed", "lost")
    assert stack.catalog.has_step_runs("demo", "r-1")
    with pytest.raises(fa.ConfigError, match="run ids are unique"):
        fa.Run(project="demo", run_id="r-1", stack=stack).start()
    elsewhere = fa.Run(project="other", run_id="r-1", stack=stack)
    elsewhere.start()
    finished(elsewhere)
    assert stack.catalog.run("other", "r-1").status == "completed"
    # a run that recorded no step is taken over by the next start of its id: running again,
    # without the earlier attempt's end
    empty = fa.Run(project="demo", run_id="r-2", stack=stack)
    empty.start()
    empty.finish("never began")
    assert not stack.catalog.has_step_runs("demo", "r-2")
    again = fa.Run(project="demo", run_id="r-2", stack=stack)
    again.start()
    taken = stack.catalog.run("demo", "r-2")
    assert (taken.status, taken.ended, taken.error) == ("running", None, None)
    finished(again)
    assert stack.catalog.run("demo", "r-2").status == "completed"
