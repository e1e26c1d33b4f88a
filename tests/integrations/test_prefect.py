"""flow-artifacts-prefect driven by Prefect itself: flows run under Prefect's test harness (a real
Prefect server on a temporary database)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import prefect
import pytest
from flow_artifacts_prefect import ARTIFACT_INPUTS, flow, task
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings
from prefect.testing.utilities import prefect_test_harness

import flow_artifacts as fa
from flow_artifacts import step

PROJECT = "pf"


@pytest.fixture(scope="module", autouse=True)
def prefect_server():
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def stack(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOW_ARTIFACTS_DISABLED", raising=False)
    stack = fa.Stack.local(tmp_path / "fa")
    with fa.use_stack(stack):
        yield stack
    stack.close()


@task
def load_raw(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": range(n)})


@task(output="clean")
def clean(raw: pd.DataFrame, factor: int = 2) -> pd.DataFrame:
    return raw.assign(y=raw["x"] * factor)


@task
def report(frame: pd.DataFrame) -> dict:
    return {"rows": len(frame)}


@task
def explode(frame: pd.DataFrame) -> None:
    raise ValueError("exploded with token=abcdefgh12345678")


@step
def summarize(frame: pd.DataFrame) -> dict:
    return {"total": int(frame["y"].sum())}


@flow(project=PROJECT)
def training(n: int) -> dict:
    frame = clean(load_raw(n), factor=3)
    summarize(frame)
    return report(frame)


@flow(project=PROJECT)
def failing() -> None:
    explode(load_raw(2))


def latest(name: str) -> fa.Artifact:
    return fa.get_artifact(f"store://{PROJECT}/{name}")


def test_a_flow_run_is_a_run_and_its_task_runs_step_runs(stack):
    state = training(4, return_state=True)
    assert state.is_completed() and state.result() == {"rows": 4}
    flow_run_id = str(state.state_details.flow_run_id)
    (run,) = stack.catalog.runs(PROJECT)
    assert (run.run_id, run.status, run.pipeline) == (flow_run_id, "completed", "training")
    steps = stack.catalog.step_runs_of_run(PROJECT, flow_run_id)
    by_kind = {s.step.rsplit("-", 1)[0]: s for s in steps}
    assert set(by_kind) == {"load_raw", "clean", "summarize", "report"}
    assert all(s.status == "completed" for s in steps)
    assert by_kind["clean"].params == {"factor": 3}
    assert by_kind["load_raw"].params == {"n": 4}
    raw, cleaned, summary, rep = (latest(n) for n in ("load_raw", "clean", "summarize", "report"))
    assert by_kind["clean"].inputs == [raw.id] and by_kind["clean"].outputs == [cleaned.id]
    assert by_kind["summarize"].inputs == [cleaned.id]  # a @step inside the flow: same run
    assert summary.load() == {"total": 18} and summary.run_id == flow_run_id
    assert set(rep.lineage().artifacts) == {raw.id, cleaned.id, rep.id}

    with get_client(sync_client=True) as client:
        links = client.read_artifacts()
    announced = {a.key: a for a in links if a.flow_run_id == state.state_details.flow_run_id}
    assert set(announced) == {"load-raw", "clean", "report"}
    assert announced["clean"].data == f"[{cleaned.uri}]({cleaned.path})"


def test_a_failing_task_fails_its_step_run_and_the_run(stack):
    state = failing(return_state=True)
    assert state.is_failed()
    (run,) = stack.catalog.runs(PROJECT)
    assert run.status == "failed"
    steps = {
        s.step.rsplit("-", 1)[0]: s for s in stack.catalog.step_runs_of_run(PROJECT, run.run_id)
    }
    assert steps["load_raw"].status == "completed"
    assert steps["explode"].status == "failed"
    assert "ValueError: exploded" in steps["explode"].error
    assert "abcdefgh12345678" not in steps["explode"].error


calls: list[int] = []


@task(cache_policy=ARTIFACT_INPUTS, persist_result=True)
def count_rows(frame: pd.DataFrame) -> int:
    calls.append(len(frame))
    return len(frame)


@flow(project=PROJECT)
def counting(artifact_ref: str) -> int:
    return count_rows(fa.get_artifact(artifact_ref))


def test_the_cache_policy_keys_on_input_checksums(stack, tmp_path):
    calls.clear()
    results = temporary_settings({PREFECT_LOCAL_STORAGE_PATH: tmp_path / "prefect-results"})
    with results:
        checksum_keyed_counts()
    assert calls == [3, 1]


def checksum_keyed_counts() -> None:
    same = pd.DataFrame({"x": [1, 2, 3]})
    fa.materialize(same, "frame", "r1", "make", PROJECT)
    fa.materialize(same.copy(), "frame", "r2", "make", PROJECT)  # v2: the same bytes
    fa.materialize(pd.DataFrame({"x": [9]}), "frame", "r3", "make", PROJECT)
    assert counting(f"store://{PROJECT}/frame@1") == 3
    assert counting(f"store://{PROJECT}/frame@2") == 3  # same checksum: cached
    assert counting(f"store://{PROJECT}/frame@3") == 1  # other content: runs


@prefect.task
@step
def load_frame(n: int) -> pd.DataFrame:  # a task whose function is a step: the step run is it
    return pd.DataFrame({"x": range(n)})


@step
def doubled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame * 2


@prefect.task
def total(frame: pd.DataFrame) -> int:  # a plain task calling a step
    return int(doubled(frame)["x"].sum())


@prefect.flow
def plain(n: int) -> int:
    return total(doubled(load_frame(n)))


@prefect.flow
def fails_after_its_steps() -> None:
    load_frame(2)
    raise ValueError("failed after the steps, token=abcdefgh12345678")


def test_a_plain_prefect_flow_records_its_steps_into_the_flow_run(stack):
    state = plain(3, return_state=True)
    assert state.is_completed() and state.result() == 12
    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        (task_run,) = [
            t for t in client.read_task_runs() if t.flow_run_id == flow_run_id and "load" in t.name
        ]
    (run,) = stack.catalog.runs(stack.project)
    assert (run.run_id, run.name, run.pipeline) == (str(flow_run_id), flow_run.name, "plain")
    assert run.status == "completed" and run.ended is not None
    steps = {s.step: s for s in stack.catalog.step_runs_of_run(stack.project, run.run_id)}
    assert set(steps) == {task_run.name, "doubled", "doubled_2"}
    loaded = steps[task_run.name]
    assert loaded.id == str(task_run.id) and loaded.params == {"n": 3}
    frame = fa.get_artifact(f"store://{stack.project}/load_frame")  # named after the step
    assert loaded.outputs == [frame.id] and frame.run_id == str(flow_run_id)
    assert steps["doubled"].inputs == [frame.id]  # lineage across tasks and direct calls
    assert steps["doubled_2"].inputs == steps["doubled"].outputs
    assert all(s.status == "completed" for s in steps.values())


def test_a_plain_flow_on_s3_and_postgresql(remote_stack):
    state = plain(3, return_state=True)
    assert state.is_completed() and state.result() == 12
    (run,) = remote_stack.catalog.runs("remote")
    assert (run.run_id, run.status) == (str(state.state_details.flow_run_id), "completed")
    steps = remote_stack.catalog.step_runs_of_run("remote", run.run_id)
    assert len(steps) == 3 and {s.status for s in steps} == {"completed"}
    frame = fa.get_artifact("store://remote/load_frame")
    assert frame.path.startswith("s3://") and frame.load()["x"].tolist() == [0, 1, 2]
    frame.verify()
    doubled_twice = fa.get_artifact("store://remote/doubled_2")
    assert frame.id in doubled_twice.lineage().artifacts


def test_a_plain_flow_failing_after_its_last_step_records_a_failed_run(stack):
    state = fails_after_its_steps(return_state=True)
    assert state.is_failed()
    (run,) = stack.catalog.runs(stack.project)
    assert run.status == "failed" and run.ended is not None
    assert "ValueError: failed after the steps" in run.error
    assert "abcdefgh12345678" not in run.error
    (step_run,) = stack.catalog.step_runs_of_run(stack.project, run.run_id)
    assert step_run.status == "completed"


@prefect.task
async def doubled_async(frame: pd.DataFrame) -> pd.DataFrame:  # a step inside an async task
    return doubled(frame)


@prefect.flow
async def plain_async(n: int) -> int:
    frame = doubled(load_frame(n))  # sync steps called from the async flow body
    return int((await doubled_async(frame))["x"].sum())


@prefect.flow
async def gathered(n: int) -> int:
    frame = load_frame(n)
    # a task and a thread that carries the context (`to_thread`) call a step at once
    halves = await asyncio.gather(doubled_async(frame), asyncio.to_thread(doubled, frame))
    return sum(int(h["x"].sum()) for h in halves)


@prefect.flow
async def async_fails_after_its_steps() -> None:
    doubled(load_frame(2))
    raise ValueError("async flow failed, token=abcdefgh12345678")


def test_an_async_flow_records_like_a_sync_flow(stack):
    state = asyncio.run(plain_async(3, return_state=True))
    assert state.is_completed() and state.result() == 12
    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        task_runs = [t for t in client.read_task_runs() if t.flow_run_id == flow_run_id]
    (load_task,) = [t for t in task_runs if "load" in t.name]
    (run,) = stack.catalog.runs(stack.project)
    assert (run.run_id, run.pipeline, run.status) == (str(flow_run_id), "plain-async", "completed")
    steps = {s.step: s for s in stack.catalog.step_runs_of_run(stack.project, run.run_id)}
    assert set(steps) == {load_task.name, "doubled", "doubled_2"}
    assert steps[load_task.name].id == str(load_task.id)
    assert all(s.status == "completed" for s in steps.values())
    frame = fa.get_artifact(f"store://{stack.project}/load_frame")
    assert frame.run_id == str(flow_run_id) and steps["doubled"].inputs == [frame.id]
    assert steps["doubled_2"].inputs == steps["doubled"].outputs  # inside the async task


def test_concurrent_async_steps_record_into_one_run(stack):
    state = asyncio.run(gathered(2, return_state=True))
    assert state.is_completed() and state.result() == 4
    (run,) = stack.catalog.runs(stack.project)
    assert run.run_id == str(state.state_details.flow_run_id) and run.status == "completed"
    steps = {s.step: s for s in stack.catalog.step_runs_of_run(stack.project, run.run_id)}
    frame = fa.get_artifact(f"store://{stack.project}/load_frame")
    assert {"doubled", "doubled_2"} <= set(steps) and len(steps) == 3
    assert steps["doubled"].inputs == steps["doubled_2"].inputs == [frame.id]
    assert steps["doubled"].outputs != steps["doubled_2"].outputs


@prefect.flow
async def threaded(n: int) -> int:
    frame = load_frame(n)
    # a thread and an executor do not carry the context: each runs the step in a copy of it
    done: list[pd.DataFrame] = []
    thread = threading.Thread(
        target=contextvars.copy_context().run, args=(lambda: done.append(doubled(frame)),)
    )
    thread.start()
    thread.join()
    loop = asyncio.get_running_loop()
    again = await loop.run_in_executor(None, contextvars.copy_context().run, doubled, frame)
    return int(done[0]["x"].sum() + again["x"].sum())


def test_steps_in_threads_given_a_copy_of_the_context_record_into_the_flow_run(stack):
    state = asyncio.run(threaded(3, return_state=True))
    assert state.is_completed() and state.result() == 12
    (run,) = stack.catalog.runs(stack.project)
    assert run.run_id == str(state.state_details.flow_run_id) and run.status == "completed"
    steps = {s.step: s for s in stack.catalog.step_runs_of_run(stack.project, run.run_id)}
    frame = fa.get_artifact(f"store://{stack.project}/load_frame")
    assert {"doubled", "doubled_2"} <= set(steps) and len(steps) == 3
    assert steps["doubled"].inputs == steps["doubled_2"].inputs == [frame.id]


def test_a_failing_async_flow_records_a_failed_run(stack):
    state = asyncio.run(async_fails_after_its_steps(return_state=True))
    assert state.is_failed()
    (run,) = stack.catalog.runs(stack.project)
    assert run.status == "failed" and "ValueError: async flow failed" in run.error
    assert "abcdefgh12345678" not in run.error
    assert {s.status for s in stack.catalog.step_runs_of_run(stack.project, run.run_id)} == {
        "completed"
    }


attempts: list[int] = []


@prefect.task(retries=1, retry_delay_seconds=0)
@step
def flaky(n: int) -> dict:
    attempts.append(n)
    if len(attempts) == 1:
        raise RuntimeError("first attempt fails")
    return {"n": n}


@prefect.flow(retries=1, retry_delay_seconds=0)
def retried(n: int) -> dict:
    result = flaky(n)
    if len(attempts) < 3:
        attempts.append(0)
        raise RuntimeError("the flow's first attempt fails")
    return result


def test_retries_are_attempts_of_one_run_and_one_step_run(stack):
    attempts.clear()
    state = retried(5, return_state=True)
    assert state.is_completed()
    (run,) = stack.catalog.runs(stack.project)
    assert run.status == "completed" and run.run_id == str(state.state_details.flow_run_id)
    step_runs = stack.catalog.step_runs_of_run(stack.project, run.run_id)
    # the flow's two attempts called the task twice: two task runs; the first retried once
    assert sorted(s.attempt for s in step_runs) == [1, 2]
    assert all(s.status == "completed" for s in step_runs)
    assert len({s.id for s in step_runs}) == 2


def test_a_flow_that_records_nothing_is_left_as_it_was(stack):
    ended: list[str] = []
    hooks = [lambda flow, flow_run, state: ended.append(state.name)]

    @prefect.flow(on_completion=hooks)
    def quiet() -> int:
        return 1

    @prefect.flow(on_completion=hooks)
    def loud() -> int:
        return len(load_frame(2))

    assert quiet() == 1 and loud() == 2 and quiet() == 1
    assert ended == ["Completed"] * 3  # the user's hooks still run, and their list is theirs
    assert len(hooks) == 1
    (run,) = stack.catalog.runs(stack.project)  # only the flow run that called a step
    assert run.pipeline == "loud" and run.status == "completed"


def test_a_hostile_flow_run_name_is_cut_to_fit(stack):
    @prefect.flow(name="my flow ..x", flow_run_name="night\x00ly-" + "n" * 300)
    def named() -> int:
        return len(load_frame(2))

    assert named() == 2
    (run,) = stack.catalog.runs(stack.project)
    assert run.name == "nightly-" + "n" * 192 and run.pipeline == "my_flow__x"


def test_recorded_tasks_record_under_a_plain_flow(stack):
    @prefect.flow
    def unwrapped() -> dict:
        return report(load_raw(2))

    assert unwrapped() == {"rows": 2}
    (run,) = stack.catalog.runs(stack.project)
    assert run.pipeline == "unwrapped" and run.status == "completed"
    assert {a.name for a in fa.list_artifacts(stack.project)} == {"load_raw", "report"}


def test_the_plugin_is_installed_and_lazy():
    assert fa.make_plugin_manager().get_plugin("prefect") is not None, (
        "flow-artifacts-prefect's entry point is missing: reinstall it (pip install -e "
        "plugins/flow-artifacts-prefect)"
    )
    script = (
        "import sys, tempfile, flow_artifacts as fa\n"
        "def one(): return 1\n"
        "with fa.use_stack(fa.Stack.local(tempfile.mkdtemp())):\n"
        "    assert fa.step(one)() == 1 and fa.current_run() is None\n"
        "assert fa.make_plugin_manager().get_plugin('prefect') is not None\n"
        "assert 'prefect' not in sys.modules, 'a step outside Prefect imported it'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_a_link_prefect_refuses_is_logged_and_the_artifact_kept(stack, monkeypatch, caplog):
    def refuse(**_):
        raise RuntimeError("Prefect API unreachable")

    monkeypatch.setattr(prefect.artifacts, "create_link_artifact", refuse)
    with caplog.at_level("WARNING", logger="flow_artifacts_prefect"):
        state = training(2, return_state=True)
    assert state.is_completed()
    assert latest("report").load() == {"rows": 2}
    assert "could not announce store://pf/report@1 to Prefect" in caplog.text


def test_async_functions_are_refused():
    async def fetch():
        return 1

    with pytest.raises(fa.ConfigError, match="async"):
        task(fetch)


def test_a_flow_run_retried_in_a_new_process_records_into_its_run(stack, tmp_path, monkeypatch):

    from .prefect_flows import fails_once

    marker = tmp_path / "fail-once"
    marker.touch()
    monkeypatch.setenv("FA_TEST_FAIL_ONCE", str(marker))
    state = fails_once(4, return_state=True)
    assert state.is_failed()
    flow_run_id = str(state.state_details.flow_run_id)
    assert stack.catalog.run(stack.project, flow_run_id).status == "failed"

    stack_file = file_of(stack, tmp_path)
    entrypoint = f"{Path(__file__).parent / 'prefect_flows.py'}:fails_once"
    environment = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "FLOW_ARTIFACTS_STACK": str(stack_file),
    }
    retried = subprocess.run(
        [sys.executable, "-m", "prefect", "flow-run", "retry", flow_run_id, "--entrypoint",
         entrypoint],
        env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert retried.returncode == 0, retried.stdout + retried.stderr

    (run,) = stack.catalog.runs(stack.project)
    assert (run.run_id, run.status, run.error) == (flow_run_id, "completed", None)
    steps = {s.step: s for s in stack.catalog.step_runs_of_run(stack.project, flow_run_id)}
    assert all(s.status == "completed" for s in steps.values()), steps
    # the retry ran the flow from its start again: its steps are new step runs of the run
    assert {"prepared", "prepared_2", "finished"} <= set(steps)
    counted = [s for name, s in steps.items() if name.startswith("counted")]
    assert len(counted) == 2 and len({s.id for s in counted}) == 2  # two task runs
    assert steps["finished"].inputs == steps["prepared_2"].outputs
    assert fa.get_artifact(f"store://{stack.project}/finished").load() == {"done": 4}


def file_of(stack: fa.Stack, folder: Path) -> Path:
    """A stack file naming `stack`'s store and catalog, for another process to open."""
    path = folder / "stack.yaml"
    path.write_text(
        f"project: {stack.project}\n"
        f"artifact_store: {{url: '{stack.store.url}'}}\n"
        f"catalog: {{url: '{stack.catalog.url}'}}\n"
    )
    return path


@contextlib.contextmanager
def own_dask_cluster(environment: dict[str, str]) -> Iterator[None]:
    """A Dask cluster of this test's own, current for the block, whose workers get
    `environment`. Prefect's DaskTaskRunner uses the process's current Dask client when there is
    one (the suite's session cluster, once a test has started it), whatever it is given."""
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=None, env=environment
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
        client.as_current(),
    ):
        yield


def test_a_plain_flow_whose_steps_all_run_in_workers_leaves_an_external_run(stack, tmp_path):
    from prefect_dask import DaskTaskRunner

    from .prefect_flows import spread

    with own_dask_cluster({"FLOW_ARTIFACTS_STACK": str(file_of(stack, tmp_path))}):
        state = spread.with_options(task_runner=DaskTaskRunner())(2, return_state=True)
    assert state.is_completed() and state.result() == [1, 2]
    (run,) = stack.catalog.runs(stack.project)  # made by the first worker: no end seen
    assert (run.run_id, run.status) == (str(state.state_details.flow_run_id), "external")
    assert run.pipeline == "spread"
    steps = stack.catalog.step_runs_of_run(stack.project, run.run_id)
    assert len(steps) == 4 and {s.status for s in steps} == {"completed"}
