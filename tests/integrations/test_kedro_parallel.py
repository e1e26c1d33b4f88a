"""flow-artifacts-kedro under Kedro's ParallelRunner: nodes run in worker processes (forked, or
spawned), which join the session's run through the ticket its datasets carry, and record their
step runs, outputs and lineage there; the session's process records the run's end."""

from __future__ import annotations

import os
import threading
from multiprocessing.reduction import ForkingPickler
from pathlib import Path

import pytest
from kedro.framework.session import KedroSession
from kedro.runner import ParallelRunner, SequentialRunner

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from tests.servers import S3Server

from .conftest import kedro_command, on_both_catalogs, recorded
from .kedro_project import PACKAGE


@pytest.fixture
def stack(tmp_path, kedro_env, catalog_backend, catalog_url, monkeypatch):
    """On SQLite a stack built in code, whose settings travel to the workers; on PostgreSQL (its
    URL names a user, and credentials never travel) a stack file, which each worker opens."""
    if catalog_backend == "postgres":
        monkeypatch.setenv("FLOW_ARTIFACTS_STACK", str(stack_file(tmp_path, catalog_url)))
        stack = fa.get_stack()
        yield stack
    else:
        stack = fa.Stack(
            store=fa.ArtifactStore(tmp_path / "artifacts"), catalog=Catalog(catalog_url)
        )
        with fa.use_stack(stack):
            yield stack
    stack.close()


def stack_file(folder: Path, catalog_url: str) -> Path:
    path = folder / "stack.yaml"
    path.write_text(
        f"artifact_store: {{url: '{folder / 'artifacts'}'}}\ncatalog: {{url: '{catalog_url}'}}\n"
    )
    return path


def session_run(project: Path, runner=None, **options) -> str:
    """Runs a pipeline in a new session, by default with ParallelRunner; returns the session
    id."""
    params = options.pop("runtime_params", None)
    with KedroSession.create(project, runtime_params=params) as session:
        session.run(runner=runner or ParallelRunner(max_workers=2), **options)
        return session.session_id


OUTPUTS = ("raw", "clean", "summary")


def steps_of(stack: fa.Stack, run_id: str) -> dict:
    return {s.step: s for s in stack.catalog.step_runs_of_run(PACKAGE, run_id)}


@on_both_catalogs
def test_each_node_of_the_workers_is_a_step_run_of_the_session_run(project, stack):
    run_id = session_run(project, pipeline_name="fan")
    (run,) = stack.catalog.runs(PACKAGE)
    assert (run.run_id, run.status, run.pipeline) == (run_id, "completed", "fan")
    steps = steps_of(stack, run_id)
    assert {name: s.status for name, s in steps.items()} == dict.fromkeys(
        ("make_raw", "clean", "summarize"), "completed"
    )
    assert os.getpid() not in {s.pid for s in steps.values()}  # recorded by the workers
    assert steps["clean"].pid != steps["summarize"].pid  # they met: two processes at once
    assert steps["make_raw"].params == {"n": 3} and steps["clean"].params == {"factor": 10}
    raw, clean, summary = (fa.get_artifact(f"store://{PACKAGE}/{n}") for n in OUTPUTS)
    assert [(a.run_id, a.step, a.version) for a in (raw, clean, summary)] == [
        (run_id, "make_raw", 1),
        (run_id, "clean", 1),
        (run_id, "summarize", 1),
    ]
    assert len(clean.load()) == 3 and summary.load() == {"rows": 3}
    # whichever process saved raw, both loaded this run's version of it, as lineage says
    assert steps["clean"].inputs == [raw.id] and steps["clean"].outputs == [clean.id]
    assert steps["summarize"].inputs == [raw.id] and steps["summarize"].outputs == [summary.id]
    assert set(clean.lineage().artifacts) == {raw.id, clean.id}


def test_a_node_failing_in_a_worker_fails_its_step_run_and_the_run(project, stack):
    with pytest.raises(ValueError, match="cannot explode"):
        session_run(project, pipeline_name="fan_failing")
    (run,) = stack.catalog.runs(PACKAGE)
    assert run.status == "failed" and "ValueError: cannot explode" in run.error
    steps = steps_of(stack, run.run_id)
    assert steps["explode"].status == "failed"
    assert "ValueError: cannot explode" in steps["explode"].error
    assert "hunter2hunter2" not in steps["explode"].error + run.error
    assert steps["make_raw"].status == "completed"
    assert steps["explode"].outputs == []
    assert {a.name for a in fa.list_artifacts(PACKAGE)} <= {"raw", "summary"}


def test_an_output_a_worker_cannot_save_fails_its_step_run(project, stack, catalog_url_factory):
    with pytest.raises(Exception, match="JSON serializable"):
        session_run(project, pipeline_name="unsaveable")
    (run,) = stack.catalog.runs(PACKAGE)
    steps = steps_of(stack, run.run_id)
    assert (run.status, steps["make_raw"].status, steps["clean"].status) == (
        "failed",
        "completed",
        "failed",
    )
    assert "JSON serializable" in steps["clean"].error
    assert [a.name for a in fa.list_artifacts(PACKAGE)] == ["raw"]
    # what the workers and the session's process each journaled rebuilds the same catalog
    rebuilt = fa.Stack(store=stack.store, catalog=Catalog(catalog_url_factory()))
    assert fa.reindex(stack=rebuilt).skipped == []
    (again,) = rebuilt.catalog.runs(PACKAGE)
    assert (again.run_id, again.status, again.error) == (run.run_id, run.status, run.error)
    assert {
        name: (s.id, s.status, s.error, s.inputs, s.outputs)
        for name, s in steps_of(rebuilt, run.run_id).items()
    } == {name: (s.id, s.status, s.error, s.inputs, s.outputs) for name, s in steps.items()}
    rebuilt.catalog.close()


def test_a_node_whose_worker_dies_fails_with_the_run(project, stack):
    with pytest.raises(Exception, match="terminated abruptly"):
        session_run(project, pipeline_name="dying")
    (run,) = stack.catalog.runs(PACKAGE)
    steps = steps_of(stack, run.run_id)
    assert (run.status, steps["make_raw"].status, steps["die"].status) == (
        "failed",
        "completed",
        "failed",
    )
    assert "terminated abruptly" in steps["die"].error


def test_two_overlapping_parallel_runs_each_load_what_they_wrote(
    project, kedro_env, tmp_path, catalog_url, monkeypatch
):
    """Spawned workers, and a stack given as a file, which each worker opens itself: both runs
    saved raw before either loads it, so one of them loads a version that is not the latest."""
    monkeypatch.setenv("KEDRO_MP_CONTEXT", "spawn")
    path = stack_file(tmp_path, catalog_url)
    monkeypatch.setenv("FLOW_ARTIFACTS_STACK", str(path))
    # sessions and runners (whose manager process is forked) made here, before any thread: a
    # fork while another thread starts a subprocess would hold that subprocess's pipe open
    sessions = {n: KedroSession.create(project, runtime_params={"n": n}) for n in (3, 7)}
    runners = {n: ParallelRunner(max_workers=2) for n in sessions}
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            sessions[n].run(pipeline_name="meeting", runner=runners[n])
        except BaseException as error:  # shown by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for session in sessions.values():
        session.close()
    assert failures == []
    stack = fa.Stack.from_yaml(path)
    raws = {a.run_id: a for a in fa.list_artifacts(PACKAGE, name="raw", stack=stack)}
    for n, session in sessions.items():
        run_id = session.session_id
        summary = next(fa.list_artifacts(PACKAGE, name="summary", run_id=run_id, stack=stack))
        assert summary.load() == {"rows": n}
        assert steps_of(stack, run_id)["summarize"].inputs == [raws[run_id].id]
        assert stack.catalog.run(PACKAGE, run_id).status == "completed"
    stack.close()


def test_a_stack_workers_cannot_open_is_refused_before_any_node_runs(project, kedro_env, tmp_path):
    in_memory = fa.Stack(
        store=fa.ArtifactStore("memory://kedro-parallel"),
        catalog=Catalog(f"sqlite:///{tmp_path / 'catalog.db'}"),
    )
    with fa.use_stack(in_memory):
        with pytest.raises(fa.ConfigError, match="memory://"):
            session_run(project, pipeline_name="fan")
    (run,) = in_memory.catalog.runs(PACKAGE)
    assert run.status == "failed" and "memory://" in run.error
    assert steps_of(in_memory, run.run_id) == {}
    in_memory.close()


def test_kedro_run_with_the_parallel_runner_on_the_command_line(project, stack, tmp_path):
    """What a user types: the run, its step runs, artifacts, versions and lineage are those a
    SequentialRunner run records, though each node ran in a worker process."""
    sequential = session_run(project, SequentialRunner())
    done = kedro_command(project, stack, tmp_path, "run", "--runner", "ParallelRunner")
    assert done.returncode == 0, done.stderr[-3000:]
    runs = {r.run_id: r for r in stack.catalog.runs(PACKAGE)}
    (parallel,) = set(runs) - {sequential}
    assert recorded(stack, parallel) == recorded(stack, sequential)
    assert recorded(stack, parallel)["steps"] == {
        "make_raw": ("completed", [], ["raw"]),
        "clean": ("completed", ["raw"], ["clean"]),
        "report": ("completed", ["clean"], ["report"]),
    }
    assert [(r.status, r.pipeline, r.name) for r in (runs[parallel], runs[sequential])] == [
        ("completed", "__default__", "kedro run __default__")
    ] * 2
    assert all(r.ended is not None and r.error is None for r in runs.values())
    steps = steps_of(stack, parallel)
    assert runs[parallel].pid not in {s.pid for s in steps.values()}  # recorded by the workers

    def step(s):
        return (s.params, s.error, s.cached, s.attempt, s.ended is not None)

    assert {n: step(s) for n, s in steps.items()} == {
        n: step(s) for n, s in steps_of(stack, sequential).items()
    }
    saved = {a.name: a for a in fa.list_artifacts(PACKAGE, run_id=parallel)}
    before = {a.name: a for a in fa.list_artifacts(PACKAGE, run_id=sequential)}
    assert {n: (a.version, a.materializer, a.labels, a.checksum) for n, a in saved.items()} == {
        n: (2, a.materializer, a.labels, a.checksum) for n, a in before.items()
    }
    assert saved["report"].load() == before["report"].load() == {"rows": 3, "total": 30}
    assert saved["clean"].labels == {"layer": "primary"}


PARTS = {
    "make_raw": ("completed", [], ["raw"]),
    "split": ("completed", ["raw"], ["evens_part", "odds_part"]),
    "compare": ("completed", ["evens_part", "odds_part"], ["comparison"]),
}


def test_async_in_spawned_workers_records_what_a_sync_run_does(project, stack, monkeypatch):
    """Spawned workers unpickle each dataset with its binding: every async save is named after
    its entry (a factory's too), as the output of its node, in the session's run."""
    expected = recorded(stack, session_run(project, SequentialRunner(), pipeline_name="parts"))
    assert expected["steps"] == PARTS
    monkeypatch.setenv("KEDRO_MP_CONTEXT", "spawn")
    run_id = session_run(project, ParallelRunner(2, is_async=True), pipeline_name="parts")
    assert recorded(stack, run_id) == expected
    assert stack.catalog.run(PACKAGE, run_id).status == "completed"
    assert os.getpid() not in {s.pid for s in steps_of(stack, run_id).values()}
    runs = {r.run_id for r in stack.catalog.runs(PACKAGE)}
    assert len(runs) == 2 and run_id in runs  # no save made a run of its own
    assert {(a.name, a.version) for a in fa.list_artifacts(PACKAGE, run_id=run_id)} == {
        (name, 2) for *_, outputs in PARTS.values() for name in outputs
    }
    assert all(a.run_id in runs for a in fa.list_artifacts(PACKAGE))
    assert fa.get_artifact(f"store://{PACKAGE}/comparison").load() == {"first": 2, "second": 1}


KEY, SECRET = "AKIAKEDROWORKERS0001", "kedro-workers-s3cr3t-9f8e7d6c5b4a"


def test_workers_write_to_s3_and_no_credential_travels_or_is_recorded(
    project, kedro_env, s3_server, tmp_path, monkeypatch
):
    """A stack file on S3 whose keys come from the environment, a SQLite catalog: the workers
    open it themselves and write the artifacts, which load back verified; what the session's
    process pickled for the workers (datasets, their tickets) and what the run recorded (the
    catalog, the bucket's manifests and journal) hold neither key."""
    bucket = S3Server(s3_server.endpoint_url, KEY, SECRET).create_bucket()
    monkeypatch.setenv("FA_S3_KEY", KEY)
    monkeypatch.setenv("FA_S3_SECRET", SECRET)
    path = tmp_path / "s3-stack.yaml"
    path.write_text(
        "artifact_store:\n"
        f"  url: 's3://{bucket}/flow'\n"
        "  storage_options:\n"
        "    key: '${FA_S3_KEY}'\n"
        "    secret: '${FA_S3_SECRET}'\n"
        f"    endpoint_url: '{s3_server.endpoint_url}'\n"
        "    config_kwargs: {signature_version: s3v4}\n"
        f"catalog: {{url: 'sqlite:///{tmp_path / 'catalog.db'}'}}\n"
    )
    monkeypatch.setenv("FLOW_ARTIFACTS_STACK", str(path))
    sent: list[bytes] = []  # everything pickled to another process: tasks, their datasets
    pickled = ForkingPickler.dumps

    def dumps(obj, protocol=None):
        data = pickled(obj, protocol)
        sent.append(bytes(data))
        return data

    with monkeypatch.context() as patched:
        patched.setattr(ForkingPickler, "dumps", staticmethod(dumps))
        run_id = session_run(project, pipeline_name="parts")
    assert any(b"RunTicket" in data and run_id.encode() in data for data in sent)
    stack = fa.Stack.from_yaml(path)
    assert stack.store.url.startswith("s3://")
    assert stack.catalog.run(PACKAGE, run_id).status == "completed"
    assert os.getpid() not in {s.pid for s in steps_of(stack, run_id).values()}
    saved = {a.name: a for a in fa.list_artifacts(PACKAGE, run_id=run_id, stack=stack)}
    assert set(saved) == {"raw", "evens_part", "odds_part", "comparison"}
    for artifact in saved.values():
        artifact.verify()
    assert saved["comparison"].load() == {"first": 2, "second": 1}
    assert saved["raw"].load()["x"].tolist() == [0, 1, 2]
    stored = [stack.store.fs.cat_file(f) for f in stack.store.fs.find(bucket)]
    stack.close()
    assert any(f"{PACKAGE}/{run_id}".encode() in data for data in stored)  # manifests are here
    recorded_bytes = [p.read_bytes() for p in tmp_path.glob("catalog.db*")]
    for found in (sent, stored, recorded_bytes):
        assert not [data for data in found if KEY.encode() in data or SECRET.encode() in data]


def test_an_s3_stack_built_in_code_with_its_keys_is_refused_before_any_node_runs(
    project, kedro_env, s3_server, tmp_path
):
    """Its keys would travel to the workers with the ticket: the run fails at once, saying to
    use a stack file, and neither the error nor the catalog holds them."""
    bucket = S3Server(s3_server.endpoint_url, KEY, SECRET).create_bucket()
    options = {**s3_server.storage_options, "key": KEY, "secret": SECRET}
    keyed = fa.Stack(
        store=fa.ArtifactStore(f"s3://{bucket}/flow", **options),
        catalog=Catalog(f"sqlite:///{tmp_path / 'catalog.db'}"),
    )
    with fa.use_stack(keyed), pytest.raises(fa.ConfigError, match="stack file") as refused:
        session_run(project, pipeline_name="parts")
    (run,) = keyed.catalog.runs(PACKAGE)
    assert run.status == "failed" and "never travel" in run.error
    assert steps_of(keyed, run.run_id) == {} and list(fa.list_artifacts(PACKAGE, stack=keyed)) == []
    keyed.close()
    for text in (
        str(refused.value).encode(),
        *(p.read_bytes() for p in tmp_path.glob("catalog.db*")),
    ):
        assert KEY.encode() not in text and SECRET.encode() not in text
