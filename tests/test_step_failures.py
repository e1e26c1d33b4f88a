"""A failed step's error and traceback: recorded masked and bounded, shown by the API and
`flow-artifacts run show`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.cli.main import cli
from flow_artifacts.failures import (
    MAX_ERROR_CHARS,
    MAX_TRACEBACK_CHARS,
    TRACEBACK_HEADER,
    split_error,
)
from flow_artifacts.ui.app import create_app

SECRET = "stack-Secret-0042"
URL_PASSWORD = "urlPassw0rd99"
SOURCE_KEY = "sourceKey-77aa"


def connect(host: str) -> None:
    url = f"https://bob:{URL_PASSWORD}@{host}/v1"
    raise ConnectionError(f"GET {url} refused for {SECRET}")  # api_key = "sourceKey-77aa"


def failed_run(stack: fa.Stack) -> Any:
    @fa.step
    def fetch(host: str) -> dict:
        connect(host)
        return {}

    with pytest.raises(ConnectionError), fa.run(project="demo", stack=stack) as run:
        fetch("db.internal")
    return run


@pytest.fixture
def secret_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOW_ARTIFACTS_STACK", raising=False)
    stack = fa.get_stack()
    stack.secrets = (SECRET,)
    yield stack


def assert_no_secret(text: str) -> None:
    for secret in (SECRET, URL_PASSWORD, SOURCE_KEY):
        assert secret not in text


def test_a_failed_step_records_its_message_and_traceback_masked(secret_stack, tmp_path):
    run = failed_run(secret_stack)
    (recorded,) = secret_stack.catalog.step_runs_of_run("demo", run.id)
    assert recorded.status == "failed" and recorded.error == run.steps[0].error
    message, trace = split_error(recorded.error)
    assert message.startswith("ConnectionError: GET https://***@db.internal/v1 refused for ***")
    assert trace is not None and trace.startswith(TRACEBACK_HEADER)
    # the user's frames, innermost last; not the executor that called the step
    assert trace.index("in fetch") < trace.index("in connect")
    assert "connect(host)" in trace and 'api_key = "***"' in trace  # the quoted source line
    assert "flow_artifacts" not in trace
    # frames name their file as messages name paths: not where this machine keeps it
    assert Path(__file__).name in trace and str(Path(__file__).parent) not in trace
    assert not trace.rstrip().endswith(message)  # the message is not repeated at the end
    assert_no_secret(recorded.error)
    assert run.error == message  # the run keeps the one-line form
    for path in tmp_path.rglob("*.json"):  # manifests and journal records
        assert_no_secret(path.read_text())


def test_the_api_and_run_show_give_the_message_and_the_traceback(secret_stack):
    run = failed_run(secret_stack)
    with TestClient(create_app(secret_stack), base_url="http://127.0.0.1") as client:
        response = client.get(f"/api/runs/demo/{run.id}")
    assert response.status_code == 200
    assert_no_secret(response.text)
    (step,) = response.json()["steps"]
    assert step["error_message"].startswith("ConnectionError: GET https://***@")
    assert step["traceback"].startswith(TRACEBACK_HEADER) and "in connect" in step["traceback"]

    shown = CliRunner().invoke(cli, ["run", "show", f"demo/{run.id}"], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "step fetch failed:" in shown.stdout and TRACEBACK_HEADER in shown.stdout
    assert "in connect" in shown.stdout
    assert_no_secret(shown.stdout)
    as_json = CliRunner().invoke(cli, ["run", "show", run.id, "--json"], catch_exceptions=False)
    (step,) = json.loads(as_json.stdout)["steps"]
    assert "in connect" in step["traceback"] and step["error_message"].startswith("Connection")


def ping(n: int) -> int:
    return pong(n - 1)


def pong(n: int) -> int:
    if n <= 0:
        raise ValueError("bottom " + "x" * 100_000 + " " + SECRET)
    return ping(n)  # alternating frames: Python folds none of them


def test_a_huge_error_and_a_deep_traceback_stay_bounded_and_keep_the_failing_call(secret_stack):
    @fa.step
    def recurse(n: int) -> int:
        return ping(n)

    with pytest.raises(ValueError), fa.run(project="demo", stack=secret_stack) as run:
        recurse(400)
    (recorded,) = secret_stack.catalog.step_runs_of_run("demo", run.id)
    message, trace = split_error(recorded.error)
    assert message.startswith("ValueError: bottom") and len(message) <= MAX_ERROR_CHARS
    assert trace is not None and len(trace) <= MAX_TRACEBACK_CHARS + 200
    assert "earlier parts cut" in trace and "in recurse" not in trace  # the outer end went
    assert trace.rstrip().endswith('raise ValueError("bottom " + "x" * 100_000 + " " + SECRET)')
    assert_no_secret(recorded.error)


def test_an_error_of_flow_artifacts_itself_has_no_traceback(secret_stack):
    @fa.step(outputs=("a", "b"))
    def wrong_shape() -> Any:
        return 1  # two outputs declared: flow_artifacts refuses this value

    with pytest.raises(fa.FlowArtifactsError), fa.run(project="demo", stack=secret_stack) as run:
        wrong_shape()
    (recorded,) = secret_stack.catalog.step_runs_of_run("demo", run.id)
    assert recorded.status == "failed" and split_error(recorded.error)[1] is None


def test_an_orchestrator_task_records_the_traceback_of_what_it_caught(secret_stack):
    with fa.run(project="demo", stack=secret_stack) as run:
        task = run.start_step("train")
        try:
            connect("gpu.internal")
        except ConnectionError as caught:
            run.finish_step(task, caught)
        never_raised = run.start_step("score")
        run.finish_step(never_raised, RuntimeError("scores out of range"))
    train, score = secret_stack.catalog.step_runs_of_run("demo", run.id)
    assert "in connect" in (split_error(train.error)[1] or "")
    assert_no_secret(train.error)
    assert score.error == "RuntimeError: scores out of range"  # never raised: no frames
