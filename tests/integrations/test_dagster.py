"""flow-artifacts-dagster driven by Dagster itself: assets through `dg.materialize()`, ops through a
job execution, partitions, failures, pins and two overlapping runs."""

import threading
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from flow_artifacts_dagster import FlowArtifactsIOManager

import flow_artifacts as fa

from .conftest import commits_on, on_both_catalogs

PROJECT = "dag"


@pytest.fixture
def stack_file(tmp_path, monkeypatch, catalog_url):
    monkeypatch.delenv("FLOW_ARTIFACTS_DISABLED", raising=False)
    path = tmp_path / "stack.yaml"
    path.write_text(
        f"project: {PROJECT}\n"
        f"artifact_store: {{url: '{tmp_path / 'artifacts'}'}}\n"
        f"catalog: {{url: '{catalog_url}'}}\n"
    )
    stack = fa.Stack.from_yaml(path)
    with fa.use_stack(stack):
        yield str(path)
    stack.close()


def io_manager(stack_file: str, **options) -> FlowArtifactsIOManager:
    return FlowArtifactsIOManager(stack=stack_file, **options)


@dg.asset
def raw() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2, 3]})


@dg.asset
def clean(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.assign(y=raw["x"] * 2)


@dg.asset
def report(clean: pd.DataFrame) -> dict:
    return {"rows": len(clean)}


def latest(name: str) -> fa.Artifact:
    return fa.get_artifact(f"store://{PROJECT}/{name}")


@on_both_catalogs
def test_assets_are_stored_with_run_step_lineage_and_metadata(stack_file):
    result = dg.materialize([raw, clean, report], resources={"io_manager": io_manager(stack_file)})
    assert result.success
    r, c, rep = latest("raw"), latest("clean"), latest("report")
    assert {a.run_id for a in (r, c, rep)} == {result.run_id}
    assert (c.step, c.materializer, c.labels["dagster_run_id"]) == (
        "clean",
        "pandas.parquet",
        result.run_id,
    )
    assert rep.load() == {"rows": 3}
    assert set(rep.lineage().artifacts) == {r.id, c.id, rep.id}
    shown = result.asset_materializations_for_node("clean")[0].metadata
    assert shown["uri"].value == c.uri and shown["version"].value == 1
    assert shown["checksum"].value == c.checksum
    assert shown["dagster/row_count"].value == 3
    assert [col.name for col in shown["dagster/column_schema"].schema.columns] == ["x", "y"]


def test_assets_on_s3_and_postgresql(remote_stack_file):
    manager = FlowArtifactsIOManager(stack=remote_stack_file)
    result = dg.materialize([raw, clean, report], resources={"io_manager": manager})
    assert result.success
    with fa.use_stack(fa.Stack.from_yaml(remote_stack_file)) as stack:
        r, c, rep = (
            fa.get_artifact(f"store://remote/{name}") for name in ("raw", "clean", "report")
        )
        assert all(a.path.startswith("s3://") for a in (r, c, rep))
        assert rep.load() == {"rows": 3}
        c.verify()
        assert set(rep.lineage().artifacts) == {r.id, c.id, rep.id}
        (run,) = stack.catalog.runs("remote")
        assert (run.run_id, run.status) == (result.run_id, "completed")
        steps = {s.step: s for s in stack.catalog.step_runs_of_run("remote", result.run_id)}
        assert {name: s.status for name, s in steps.items()} == dict.fromkeys(
            ("raw", "clean", "report"), "completed"
        )
        assert steps["clean"].outputs == [c.id] and steps["clean"].inputs == [r.id]
    stack.close()


def test_inputs_load_the_pinned_version_else_the_latest(stack_file):
    dg.materialize([raw], resources={"io_manager": io_manager(stack_file)})
    fa.materialize(pd.DataFrame({"x": range(10)}), "raw", "elsewhere", "load", PROJECT)
    fa.tag(f"store://{PROJECT}/raw@1", "prod")
    selection = [raw, clean]

    unpinned = dg.materialize(
        selection, selection=[clean], resources={"io_manager": io_manager(stack_file)}
    )
    assert len(latest("clean").load()) == 10  # not produced in this run: the latest
    assert unpinned.success
    dg.materialize(
        selection,
        selection=[clean],
        resources={"io_manager": io_manager(stack_file, pins={"raw": "prod"})},
    )
    assert len(latest("clean").load()) == 3
    dg.materialize(
        selection,
        selection=[clean],
        resources={"io_manager": io_manager(stack_file, pins={"raw": "2"})},
    )
    assert len(latest("clean").load()) == 10


@on_both_catalogs
def test_two_overlapping_runs_each_load_what_they_stored(stack_file):
    """Run A stores raw, then waits inside `clean` until run B has stored a newer raw."""
    stored_by_b = threading.Event()
    a_waiting = threading.Event()

    @dg.asset(name="raw")
    def raw_sized(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return pd.DataFrame({"x": range(context.run.tags["rows"].__len__())})

    @dg.asset(name="clean")
    def clean_waiting(context: dg.AssetExecutionContext, raw: pd.DataFrame) -> pd.DataFrame:
        if context.run.tags["rows"] == "aaa":
            a_waiting.set()
            assert stored_by_b.wait(60)
        return raw

    resources = {"io_manager": io_manager(stack_file)}
    results = {}

    def run_a():
        results["a"] = dg.materialize(
            [raw_sized, clean_waiting], resources=resources, tags={"rows": "aaa"}
        )

    thread = threading.Thread(target=run_a)
    thread.start()
    assert a_waiting.wait(60)
    results["b"] = dg.materialize([raw_sized], resources=resources, tags={"rows": "bbbbb"})
    stored_by_b.set()
    thread.join(60)
    assert results["a"].success and results["b"].success
    assert latest("raw").run_id == results["b"].run_id  # B's is the latest ...
    assert len(latest("clean").load()) == 3  # ... but A loaded its own
    clean_a = latest("clean")
    (raw_a,) = [i for i in clean_a.lineage().artifacts if i != clean_a.id]
    assert fa.get_artifact(raw_a).run_id == results["a"].run_id


daily = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-04")


@dg.asset(partitions_def=daily)
def events(context: dg.AssetExecutionContext) -> pd.DataFrame:
    day = int(context.partition_key[-2:])
    return pd.DataFrame({"day": [day] * day})


@dg.asset
def all_events(events: dict) -> dict:
    return {key: len(frame) for key, frame in events.items()}


def test_partitions_are_labels_in_the_path_and_load_together(stack_file):
    manager = io_manager(stack_file)
    for key in ("2026-01-01", "2026-01-02", "2026-01-03"):
        assert dg.materialize(
            [events], partition_key=key, resources={"io_manager": manager}
        ).success
    dg.materialize([events], partition_key="2026-01-02", resources={"io_manager": manager})
    second = fa.list_artifacts(PROJECT, name="events", labels={"dagster_partition": "2026-01-02"})
    assert [a.version for a in second] == [4, 2]
    assert latest("events").step == "events.2026-01-02"
    assert "/events.2026-01-02/" in latest("events").key
    result = dg.materialize(
        [events, all_events], selection=[all_events], resources={"io_manager": manager}
    )
    assert result.success
    assert latest("all_events").load() == {"2026-01-01": 1, "2026-01-02": 2, "2026-01-03": 3}
    assert len(latest("all_events").lineage().artifacts) == 4  # the three partitions read


@dg.op
def numbers() -> list:
    return [1, 2, 3]


@dg.op(out={"total": dg.Out(), "count": dg.Out()})
def stats(numbers: list):
    return sum(numbers), len(numbers)


@dg.op
def explode(total: int) -> int:
    raise ValueError("no way")


@on_both_catalogs
def test_a_job_of_ops_stores_each_output_and_a_failure_stops_where_it_failed(stack_file):
    @dg.job(resource_defs={"io_manager": io_manager(stack_file)})
    def arithmetic():
        total, _ = stats(numbers())
        explode(total)

    result = arithmetic.execute_in_process(raise_on_error=False)
    assert not result.success
    assert latest("stats.total").load() == 6 and latest("stats.count").load() == 3
    assert latest("stats.total").run_id == result.run_id
    assert [a.name for a in fa.list_artifacts(PROJECT) if a.name.startswith("explode")] == []
    catalog = fa.get_stack().catalog
    (run,) = catalog.runs(PROJECT)
    assert (run.run_id, run.status, run.pipeline) == (result.run_id, "failed", "arithmetic")
    assert "explode" in run.error
    steps = {s.step: s for s in catalog.step_runs_of_run(PROJECT, result.run_id)}
    assert set(steps) == {"numbers", "stats", "explode"}
    assert [steps[s].status for s in ("numbers", "stats")] == ["completed", "completed"]
    assert steps["stats"].inputs == [latest("numbers").id]
    assert sorted(steps["stats"].outputs) == sorted(
        [latest("stats.total").id, latest("stats.count").id]
    )
    assert steps["explode"].status == "failed" and steps["explode"].outputs == []
    assert steps["explode"].error == "ValueError: no way"
    assert all(s.ended is not None for s in steps.values())


def test_asset_runs_record_their_status_and_retries_as_attempts(stack_file):
    tries: list[int] = []

    @dg.asset(name="clean", retry_policy=dg.RetryPolicy(max_retries=1))
    def clean_flaky(raw: pd.DataFrame) -> pd.DataFrame:
        tries.append(1)
        if len(tries) == 1:
            raise ConnectionError("flaky source, password=hunter2")
        return raw

    result = dg.materialize([raw, clean_flaky], resources={"io_manager": io_manager(stack_file)})
    assert result.success
    catalog = fa.get_stack().catalog
    (run,) = catalog.runs(PROJECT)
    assert (run.run_id, run.status, run.pipeline) == (
        result.run_id,
        "completed",
        "__ephemeral_asset_job__",
    )
    steps = {s.step: s for s in catalog.step_runs_of_run(PROJECT, result.run_id)}
    assert {name: (s.status, s.attempt) for name, s in steps.items()} == {
        "raw": ("completed", 1),
        "clean": ("completed", 2),
    }
    assert steps["clean"].outputs == [latest("clean").id] and steps["clean"].error is None


def test_under_the_multiprocess_executor_each_step_process_records_its_step(
    stack_file, monkeypatch
):
    from .dagster_jobs import arithmetic_in_processes

    monkeypatch.setenv("FA_TEST_STACK", stack_file)
    with dg.instance_for_test() as instance:
        result = dg.execute_job(dg.reconstructable(arithmetic_in_processes), instance=instance)
    assert not result.success
    catalog = fa.get_stack().catalog
    (run,) = catalog.runs(PROJECT)
    assert (run.run_id, run.status) == (result.run_id, "external")  # no step saw its end
    assert run.pipeline == "arithmetic_in_processes"  # recorded by the first step's process
    steps = {s.step: s for s in catalog.step_runs_of_run(PROJECT, result.run_id)}
    assert {name: s.status for name, s in steps.items()} == {
        "numbers": "completed",
        "total": "completed",
        "explode": "failed",
    }
    assert steps["explode"].error == "ValueError: no way"
    assert steps["total"].inputs == [latest("numbers").id]
    assert steps["total"].outputs == [latest("total").id] and latest("total").load() == 6


def test_the_launching_process_records_a_multiprocess_runs_end(stack_file, tmp_path, monkeypatch):
    from .dagster_jobs import arithmetic_in_processes, arithmetic_succeeding_in_processes

    monkeypatch.setenv("FA_TEST_STACK", stack_file)
    manager = io_manager(stack_file)
    catalog = fa.get_stack().catalog
    (tmp_path / "dagster").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:
        ok = dg.execute_job(dg.reconstructable(arithmetic_succeeding_in_processes), instance)
        failed = dg.execute_job(dg.reconstructable(arithmetic_in_processes), instance)
        assert ok.success and not failed.success
        assert catalog.run(PROJECT, failed.run_id).status == "external"  # until told
        assert manager.record_run_end(instance, ok.run_id) == "completed"  # the caller

        @dg.run_failure_sensor
        def artifacts_run_failed(context: dg.RunFailureSensorContext):  # a deployment
            manager.record_run_end(context.instance, context.dagster_run.run_id)

        artifacts_run_failed(
            dg.build_run_status_sensor_context(
                sensor_name="artifacts_run_failed",
                dagster_event=failed.get_run_failure_event(),
                dagster_instance=instance,
                dagster_run=instance.get_run_by_id(failed.run_id),
            ).for_run_failure()
        )
        assert manager.record_run_end(instance, failed.run_id) == "failed"  # once is enough
        with pytest.raises(fa.ConfigError, match="not in this Dagster instance"):
            manager.record_run_end(instance, "no-such-run")
    done, broken = catalog.run(PROJECT, ok.run_id), catalog.run(PROJECT, failed.run_id)
    assert (done.status, done.error) == ("completed", None) and done.ended is not None
    assert done.pipeline == "arithmetic_succeeding_in_processes"
    assert broken.status == "failed" and "Steps failed: ['explode']" in broken.error
    steps = {s.step: s.status for s in catalog.step_runs_of_run(PROJECT, failed.run_id)}
    assert steps == {"numbers": "completed", "total": "completed", "explode": "failed"}


def test_a_run_end_is_recorded_only_once_ended_and_never_over_a_recorded_one(
    stack_file, monkeypatch
):
    from .dagster_jobs import arithmetic_in_processes

    monkeypatch.setenv("FA_TEST_STACK", stack_file)
    manager = io_manager(stack_file)
    with dg.instance_for_test() as instance:
        result = dg.materialize([raw], resources={"io_manager": manager}, instance=instance)
        assert manager.record_run_end(instance, result.run_id) == "completed"  # left as is
        running = instance.create_run_for_job(arithmetic_in_processes)  # not started
        with pytest.raises(fa.ConfigError, match="not ended"):
            manager.record_run_end(instance, running.run_id)


def test_a_missing_pin_fails_the_step_with_a_clear_error(stack_file):
    dg.materialize([raw], resources={"io_manager": io_manager(stack_file)})
    with pytest.raises(fa.ArtifactNotFound, match="raw:nope"):
        dg.materialize(
            [raw, clean],
            selection=[clean],
            resources={"io_manager": io_manager(stack_file, pins={"raw": "nope"})},
        )


hostile = dg.StaticPartitionsDefinition(["../../etc", "a/b:c@d#e"])


@dg.asset(partitions_def=hostile)
def odd(context: dg.AssetExecutionContext) -> dict:
    return {"key": context.partition_key}


def test_partition_keys_never_escape_their_path_segment(stack_file, tmp_path):
    manager = io_manager(stack_file)
    for key in hostile.get_partition_keys():
        assert dg.materialize([odd], partition_key=key, resources={"io_manager": manager}).success
    stored = list(fa.list_artifacts(PROJECT, name="odd"))
    assert {a.labels["dagster_partition"] for a in stored} == {"../../etc", "a/b:c@d#e"}
    for artifact in stored:
        assert artifact.key.count("/") == 3 and ".." not in artifact.key
        assert Path(artifact.path.removeprefix("file://")).resolve().is_relative_to(tmp_path)
        assert artifact.load() == {"key": artifact.labels["dagster_partition"]}


def step_history(catalog, run_id: str) -> dict:
    return {
        s.step: (s.id, s.status, s.attempt, s.error, s.inputs, s.outputs)
        for s in catalog.step_runs_of_run(PROJECT, run_id)
    }


def test_an_asset_run_commits_each_step_once_and_the_journal_rebuilds_it(
    stack_file, tmp_path, catalog_url_factory
):
    @dg.asset(name="report")
    def failing_report(clean: pd.DataFrame) -> dict:
        raise ValueError("no report today")

    stack = fa.get_stack()
    manager = io_manager(stack_file)
    with commits_on(stack.catalog) as commits:  # the IO manager's engine opens in this run
        failed = dg.materialize(
            [raw, clean, failing_report], resources={"io_manager": manager}, raise_on_error=False
        )
        assert not failed.success
        commits.clear()
        ok = dg.materialize([raw, clean, report], resources={"io_manager": manager})
    assert ok.success
    # the run's start with raw's start, each output, each step's end with the next step's
    # start, and the last one's with the run's end: 7 transactions, where 11 were
    assert len(commits) == 7
    runs = {r.run_id: (r.status, r.pipeline, r.error) for r in stack.catalog.runs(PROJECT)}
    assert runs[ok.run_id][0] == "completed" and runs[failed.run_id][0] == "failed"
    history = {r: step_history(stack.catalog, r) for r in runs}
    assert history[failed.run_id]["report"][1:4] == ("failed", 1, "ValueError: no report today")
    assert history[ok.run_id]["report"][1] == "completed"

    store = fa.ArtifactStore(stack.store.url)
    catalog = fa.Catalog(catalog_url_factory())
    rebuilt = fa.Stack(store=store, catalog=catalog, plugins=store.plugins, project=PROJECT)
    assert fa.reindex(stack=rebuilt).skipped == []  # the store alone: manifests and journal
    assert {
        r.run_id: (r.status, r.pipeline, r.error) for r in rebuilt.catalog.runs(PROJECT)
    } == runs
    assert {r: step_history(rebuilt.catalog, r) for r in runs} == history
    rebuilt.close()
