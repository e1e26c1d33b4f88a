"""flow-artifacts-prefect driven by Prefect itself: flows run under Prefect's test harness (a real
Prefect server on a temporary database)."""

from __future__ import annotations

import pandas as pd
import pytest
from flow_artifacts_prefect import ARTIFACT_INPUTS, flow, task
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings
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


def test_outside_a_recorded_flow_tasks_run_plainly(stack):
    from prefect import flow as plain_flow

    @plain_flow
    def unrecorded() -> dict:
        return report(load_raw(2))

    assert unrecorded() == {"rows": 2}
    assert list(fa.list_artifacts(PROJECT)) == []


def test_async_functions_are_refused():
    async def fetch():
        return 1

    with pytest.raises(fa.ConfigError, match="async"):
        task(fetch)
