"""Prefect flows whose tasks a Dask or Ray task runner sends to worker processes (the suite's
session engines, started with the stack files' `${VAR}`s in their environment): the steps there
record into the flow run's run on the stack the `flow` was given, never on the workers' own, and
no secret of that stack reaches Prefect."""

from __future__ import annotations

import dataclasses
import pickle
import socket

import cloudpickle
import pytest
from flow_artifacts_prefect import flow
from flow_artifacts_prefect.flow_runs import STACK_ATTRIBUTE
from prefect.client.orchestration import get_client
from prefect.testing.utilities import prefect_test_harness

import flow_artifacts as fa
from tests.engine_fixtures import DB_PASSWORD, S3_SECRET

from .prefect_flows import spread

PROJECT = "pfw"


@pytest.fixture(scope="module", autouse=True)
def prefect_server():
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(autouse=True)
def recording(monkeypatch):
    monkeypatch.delenv("FLOW_ARTIFACTS_DISABLED", raising=False)


def task_runner(kind: str, request):
    """A task runner on the suite's session engine of that kind."""
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=request.getfixturevalue("dask_client").scheduler.address)
    from prefect_ray import RayTaskRunner

    request.getfixturevalue("ray_instance")
    return RayTaskRunner()  # joins the instance started here; leaves it running


def persisted_by_prefect(flow_run_id) -> str:
    """All that Prefect keeps of a flow run: the run, its task runs, logs and artifacts."""
    with get_client(sync_client=True) as client:
        records = [client.read_flow_run(flow_run_id)]
        records += [t for t in client.read_task_runs() if t.flow_run_id == flow_run_id]
        records += client.read_logs()
        records += client.read_artifacts()
    return "\n".join(record.model_dump_json() for record in records)


@pytest.mark.parametrize("kind", ["dask", "ray"])
def test_steps_in_tasks_sent_to_dask_or_ray_record_into_the_flow_run(kind, request, tmp_path):
    # a stack built in code, without secrets: it travels as its settings
    stack = fa.Stack.local(tmp_path / "given", project=PROJECT)
    recorded_spread = flow(spread.fn, stack=stack, name="recorded-spread")
    state = recorded_spread.with_options(task_runner=task_runner(kind, request))(
        3, return_state=True
    )
    assert state.is_completed() and state.result() == [1, 2, 5]
    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        task_runs = [t for t in client.read_task_runs() if t.flow_run_id == flow_run_id]
    (run,) = stack.catalog.runs(PROJECT)  # one run: the flow run's, none of the workers'
    assert (run.run_id, run.status, run.pipeline) == (
        str(flow_run_id),
        "completed",
        "recorded-spread",
    )
    steps = stack.catalog.step_runs_of_run(PROJECT, run.run_id)
    assert len(steps) == 6 and all(s.status == "completed" for s in steps)
    names = {s.step for s in steps}
    # named as in the flow's process, whichever worker recorded first
    assert {"incremented", "incremented_2", "incremented_3"} < names
    squares = {str(t.id): t.name for t in task_runs if t.name.startswith("squared")}
    assert {s.id: s.step for s in steps if s.id in squares} == squares  # the task run's name
    with fa.use_stack(stack):
        refs = [f"squared@{v}" for v in (1, 2, 3)] + [n for n in names if n.startswith("incr")]
        artifacts = [fa.get_artifact(f"store://{PROJECT}/{ref}") for ref in refs]
    assert sorted(a.load()["n"] for a in artifacts) == [0, 1, 1, 2, 4, 5]
    assert {a.run_id for a in artifacts} == {run.run_id}


def test_a_stack_file_given_to_the_flow_is_the_workers_and_its_secrets_stay_out_of_prefect(
    request, stack_file
):
    # the file's secrets are ${VAR}s; the flow's process and the workers have them set
    remote_spread = flow(spread.fn, stack=str(stack_file), name="remote-spread")
    runner = task_runner("dask", request)
    state = remote_spread.with_options(task_runner=runner)(2, return_state=True)
    assert state.is_completed() and state.result() == [1, 2]
    flow_run_id = state.state_details.flow_run_id
    stack = fa.Stack.from_yaml(stack_file)
    (run,) = stack.catalog.runs("dist")  # the file's project: the flow names none
    assert (run.run_id, run.status) == (str(flow_run_id), "completed")
    steps = stack.catalog.step_runs_of_run("dist", run.run_id)
    assert len(steps) == 4 and {s.status for s in steps} == {"completed"}
    with fa.use_stack(stack):
        squared = fa.get_artifact("store://dist/squared@2")
    assert squared.path.startswith("s3://") and squared.load() == {"n": 1}

    shipped = cloudpickle.dumps(remote_spread)  # what travels with every task
    kept = persisted_by_prefect(flow_run_id)
    for secret in (S3_SECRET, DB_PASSWORD):
        assert secret.encode() not in shipped
        assert secret not in kept


def in_code_with_credentials(tmp_path, request) -> fa.Stack:
    url = request.getfixturevalue("postgres_url")
    catalog = fa.Catalog(url.replace("postgres@", f"postgres:{DB_PASSWORD}@", 1))
    return fa.Stack(store=fa.ArtifactStore(tmp_path / "art"), catalog=catalog, project=PROJECT)


def in_memory(tmp_path, request) -> fa.Stack:
    catalog = fa.Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    store = fa.ArtifactStore(f"memory://{tmp_path.name}")
    return fa.Stack(store=store, catalog=catalog, project=PROJECT)


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (in_code_with_credentials, "describe it in a stack file"),
        (in_memory, "keeps its artifacts in memory://"),
    ],
)
def test_a_stack_workers_cannot_open_fails_their_steps_saying_what_to_do(
    make, says, request, tmp_path
):
    stack = make(tmp_path, request)
    refused_spread = flow(spread.fn, stack=stack, name="refused-spread")
    shipped = cloudpickle.dumps(refused_spread)
    state = refused_spread.with_options(task_runner=task_runner("dask", request))(
        1, return_state=True
    )
    assert state.is_failed()
    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        (failed,) = [
            t
            for t in client.read_task_runs()
            if t.flow_run_id == flow_run_id and t.state.is_failed()
        ]
    assert "task runner's workers" in failed.state.message and says in failed.state.message
    (run,) = stack.catalog.runs(PROJECT)  # opened by the flow's process, at its start
    assert (run.run_id, run.status) == (str(flow_run_id), "failed")
    assert stack.catalog.step_runs_of_run(PROJECT, run.run_id) == []  # none elsewhere either
    assert DB_PASSWORD.encode() not in shipped
    assert DB_PASSWORD not in persisted_by_prefect(flow_run_id)


def test_a_sqlite_catalog_reached_from_another_machine_is_refused(tmp_path):
    stack = fa.Stack.local(tmp_path / "given", project=PROJECT)
    given = getattr(flow(spread.fn, stack=stack).fn, STACK_ATTRIBUTE)
    arrived = pickle.loads(cloudpickle.dumps(given))  # as a worker unpickles it
    assert arrived.shipped.sqlite_host == socket.gethostname()
    assert arrived.in_worker().catalog.url == stack.catalog.url  # on this machine: the same
    elsewhere = dataclasses.replace(arrived.shipped, sqlite_host="another-machine")
    with pytest.raises(fa.ConfigError, match="SQLite file on another-machine.*use PostgreSQL"):
        elsewhere.open()
