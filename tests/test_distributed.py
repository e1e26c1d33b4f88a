"""Steps as Dask and Ray tasks, each worker writing to moto's S3 and a throwaway PostgreSQL.

The engines and stack files are `tests/engine_fixtures.py`'s; workers killed mid-write and a
killed driver are `test_distributed_kills.py`'s.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.errors import ConfigError
from flow_artifacts.steps.executors import Executor, resolve_executor

from . import distributed_steps as ds
from .core_plugins import ExecutorPlugin, RecordingExecutor, host_with
from .engine_fixtures import DB_PASSWORD, S3_SECRET, write_stack_file

PARTS = 10  # 10 loads, 10 featurizes, merge, fit, report: 23 steps


def training(executor: object, stack: fa.Stack, parts: int = PARTS) -> fa.Pipeline:
    @fa.pipeline(project="dist", stack=stack, executor=executor)  # type: ignore[arg-type]
    def fan_out_fan_in() -> object:
        featurized = [ds.featurize(ds.load_part(i)) for i in range(parts)]
        features, summary = ds.merge(featurized)  # fan-in, unpacked from a handle
        return ds.report(ds.fit(features), summary)

    return fan_out_fan_in


def records(stack: fa.Stack, run: fa.Run) -> list[tuple]:
    """What a run recorded, without ids and times: step runs with their inputs and outputs
    (by name and version), statuses, params, cache keys, cache hits and attempts."""
    names = {}
    for record in stack.catalog.step_runs_of_run("dist", run.id):
        for artifact_id in [*record.inputs, *record.outputs]:
            (manifest,) = stack.catalog.by_ids([artifact_id])
            names[artifact_id] = (manifest.name, manifest.version)
    return [
        (
            r.step,
            r.status,
            r.cached,
            r.cache_key,
            r.attempt,
            sorted(r.params.items()),
            sorted(names[i] for i in r.inputs),
            sorted(names[i] for i in r.outputs),
        )
        for r in sorted(stack.catalog.step_runs_of_run("dist", run.id), key=lambda r: r.step)
    ]


def named_edges(graph) -> list[tuple[str, str]]:
    label = {i: f"{m.name}@{m.version}" for i, m in graph.artifacts.items()}
    label.update({i: r.step for i, r in graph.step_runs.items()})
    return sorted((label[a], label[b]) for a, b in graph.edges)


def test_a_fan_out_fan_in_pipeline_on_dask_records_what_a_local_run_records(
    dask_client, stack_file, tmp_path, s3_server, postgres_database_factory
):
    stack = fa.Stack.from_yaml(stack_file)
    distributed_run = training(fa.DaskExecutor(dask_client), stack)()
    assert distributed_run.status == "completed"
    assert distributed_run.result.result() == {"slope": 2.0, "rows": 3 * PARTS}
    assert len(distributed_run.steps) == 2 * PARTS + 3
    assert all(s.status == "completed" for s in distributed_run.steps)

    local_stack = fa.Stack.from_yaml(
        write_stack_file(tmp_path / "local.yaml", s3_server, postgres_database_factory())
    )
    local_run = training(None, local_stack)()
    assert records(stack, distributed_run) == records(local_stack, local_run)
    assert [s.name for s in distributed_run.steps] == [s.name for s in local_run.steps]
    assert list(distributed_run.artifacts) == list(local_run.artifacts)

    # cache hits: the featurize steps, in both
    again, local_again = training("dask", stack)(), training(None, local_stack)()
    assert records(stack, again) == records(local_stack, local_again)
    assert sum(s.cached for s in again.steps) == PARTS
    lineage = stack.catalog.lineage(again.artifacts["report"].id)
    local_lineage = local_stack.catalog.lineage(local_again.artifacts["report"].id)
    assert named_edges(lineage) == named_edges(local_lineage)
    assert len(lineage.edges) > 4 * PARTS


def test_no_secret_travels_in_a_task(dask_client, stack_file):
    recording = RecordingExecutor(fa.DaskExecutor(dask_client))
    run = training(recording, fa.Stack.from_yaml(stack_file), parts=2)()
    assert run.status == "completed" and len(recording.payloads) == 7
    for payload in recording.payloads:
        assert S3_SECRET.encode() not in payload
        assert DB_PASSWORD.encode() not in payload
        assert b"FA_TEST_S3_SECRET" in payload or b"stack.yaml" in payload


def test_a_failing_step_fails_the_run_cancels_its_dependents_and_raises_at_the_driver(
    dask_client, stack_file
):
    stack = fa.Stack.from_yaml(stack_file)
    with pytest.raises(ds.StepBroke, match="column 'z' is missing"):
        with fa.run(project="dist", stack=stack, executor=fa.DaskExecutor(dask_client)) as run:
            ds.fit(ds.breaks(ds.load_part(1)))
    assert run.status == "failed" and "StepBroke" in run.error
    recorded = {r.step: r for r in stack.catalog.step_runs_of_run("dist", run.id)}
    assert recorded["breaks"].status == "failed"
    assert recorded["load_part"].status == "completed"
    assert "fit" not in recorded  # its input never came: it never ran
    assert stack.catalog.run("dist", run.id).status == "failed"


def test_a_worker_killed_mid_step_is_retried_as_a_new_attempt(dask_client, stack_file, tmp_path):
    stack = fa.Stack.from_yaml(stack_file)
    marker = str(tmp_path / "killed-once")
    with fa.run(project="dist", stack=stack, executor=fa.DaskExecutor(dask_client)) as run:
        survived = ds.dies_once(ds.load_part(3), marker)
    assert Path(marker).exists() and run.status == "completed"
    assert survived.result()["survived"].all()
    (record,) = [r for r in stack.catalog.step_runs_of_run("dist", run.id) if r.step == "dies_once"]
    assert (record.status, record.attempt) == ("completed", 2)
    assert [m.version for m in stack.catalog.versions("dist", "dies_once").items] == [1]
    fs, root = stack.store.fs, stack.store.root
    written = fs.find(f"{root}/dist/{run.id}/dies_once")
    assert written and all(run.artifacts["dies_once"].key in path for path in written)


def test_dask_results_come_at_once_and_a_failure_in_call_order(dask_client):
    executor = fa.DaskExecutor(dask_client)
    keys = [f"abs-{i}-{uuid.uuid4().hex}" for i in range(5)]
    futures = [executor.submit(abs, [-i], key=key) for i, key in enumerate(keys)]
    assert executor.results(futures) == [0, 1, 2, 3, 4]
    failing = executor.submit(ds.fails_with, ["second"], key=f"fails-{uuid.uuid4().hex}")
    later = executor.submit(ds.fails_with, ["third"], key=f"fails-{uuid.uuid4().hex}")
    with pytest.raises(ds.StepBroke, match="second"):
        executor.results([futures[0], failing, later])


def test_a_local_cluster_may_share_a_sqlite_catalog(dask_client, tmp_path):
    stack = fa.Stack.local(tmp_path / "local", project="dist")
    run = training(fa.DaskExecutor(dask_client), stack, parts=3)()
    assert run.status == "completed"
    assert [m.version for m in stack.catalog.versions("dist", "features").items] == [1]
    assert run.artifacts["summary"].load() == {"rows": 9}


class FarAway(Executor):
    name = "far"

    def submit(self, fn, args, *, key):
        raise AssertionError("a refused stack must not submit anything")

    def result(self, future):
        return future

    def cancel(self, futures):
        pass

    def hosts(self):
        return {"10.20.30.40"}


class NearBy(FarAway):
    def hosts(self):
        return {"127.0.0.1"}


def test_stacks_workers_cannot_share_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="SQLite catalog.*other machines"):
        with fa.run(stack=fa.Stack.local(tmp_path), executor=FarAway()):
            ds.load_part(1)
    memory = fa.Stack(
        store=fa.ArtifactStore("memory://dist-refused"),
        catalog=fa.Catalog(f"sqlite:///{tmp_path / 'c.db'}"),
    )
    with pytest.raises(ConfigError, match="memory://"):
        with fa.run(stack=memory, executor=FarAway()):
            ds.load_part(1)
    with_options = fa.Stack(
        store=fa.ArtifactStore(tmp_path / "store", auto_mkdir=True),
        catalog=fa.Catalog(f"sqlite:///{tmp_path / 'c.db'}"),
    )
    with pytest.raises(ConfigError, match="never travel to workers"):
        with fa.run(stack=with_options, executor=NearBy()) as refused:
            ds.load_part(1)
    assert refused.status == "failed" and refused.steps == []


class Miscounting(NearBy):
    """Runs each task at once, in this process, and loses the results at the run's end."""

    name = "miscounting"

    def submit(self, fn, args, *, key):
        return fn(*args)

    def results(self, futures):
        return []


def test_an_executor_that_loses_results_is_named_and_the_run_fails(tmp_path):
    stack = fa.Stack.local(tmp_path / "fa", project="dist")
    with pytest.raises(ConfigError, match="'miscounting' returned 0 results for 1 tasks"):
        with fa.run(project="dist", stack=stack, executor=Miscounting()) as run:
            ds.load_part(1)
    assert run.status == "failed"
    assert stack.catalog.run("dist", run.id).status == "failed"


def test_engines_by_name_and_from_plugins():
    host = host_with(far=ExecutorPlugin("far", FarAway))
    assert isinstance(resolve_executor("far", host), FarAway)
    with pytest.raises(ConfigError, match="unknown executor 'nope'; allowed: dask, far, ray"):
        resolve_executor("nope", host)
    with pytest.raises(fa.PluginError, match="already taken"):
        resolve_executor("far", host_with(dask=ExecutorPlugin("dask", FarAway)))


def test_the_same_pipeline_on_ray(ray_instance, stack_file, tmp_path):
    stack = fa.Stack.from_yaml(stack_file)
    run = training(fa.RayExecutor(), stack)()
    assert run.status == "completed" and len(run.steps) == 2 * PARTS + 3
    assert run.result.result() == {"slope": 2.0, "rows": 3 * PARTS}

    with pytest.raises(ds.StepBroke, match="column 'z' is missing"):
        with fa.run(project="dist", stack=stack, executor="ray") as failed:
            ds.fit(ds.breaks(ds.load_part(1)))
    assert failed.status == "failed"

    marker = str(tmp_path / "killed-once-on-ray")
    with fa.run(project="dist", stack=stack, executor="ray") as retried:
        ds.dies_once(ds.load_part(3), marker)
    (record,) = [
        s for s in stack.catalog.step_runs_of_run("dist", retried.id) if s.step == "dies_once"
    ]
    assert (record.status, record.attempt) == ("completed", 2)
