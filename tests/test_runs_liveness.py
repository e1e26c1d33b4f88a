"""A run whose process is gone reads as `crashed`, in the API, the CLI and the web API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import update
from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.catalog import liveness
from flow_artifacts.catalog import schema as t
from flow_artifacts.cli.main import cli
from flow_artifacts.ui.app import create_app

VICTIM = textwrap.dedent(
    """
    import sys, time
    import flow_artifacts as fa

    @fa.step
    def stuck(n: int) -> dict:
        print("ready", flush=True)
        time.sleep(600)
        return {"n": n}

    with fa.run(project="demo", run_id="victim", stack=sys.argv[1]):
        stuck(1)
    """
)


@pytest.fixture
def stack_file(stack, tmp_path):
    path = tmp_path / "stack.yaml"
    path.write_text(
        f"stacks:\n  main:\n    artifact_store: {{url: '{stack.store.url}'}}\n"
        f"    catalog: {{url: '{stack.catalog.url}'}}\n"
    )
    return path


def _run_until_killed(stack_file) -> None:
    """A process that opens a run and a step run, then dies by SIGKILL inside the step."""
    victim = subprocess.Popen(
        [sys.executable, "-c", VICTIM, str(stack_file)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert victim.stdout is not None and victim.stdout.readline().strip() == "ready"
    finally:
        victim.kill()  # SIGKILL: nothing in the process runs after it
        victim.wait(timeout=60)


def _cli_runs(stack_file, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--stack", str(stack_file), "runs", "demo", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_sigkilled_run_and_its_step_read_as_crashed_a_live_one_as_running(stack, stack_file):
    _run_until_killed(stack_file)

    [victim] = stack.catalog.runs("demo")
    assert victim.status == "crashed" and victim.ended is None
    assert victim.pid and victim.host == liveness.HOST
    [step_run] = stack.catalog.step_runs_of_run("demo", "victim")
    assert step_run.status == "crashed"
    assert [r["status"] for r in json.loads(_cli_runs(stack_file, "--json"))["items"]] == [
        "crashed"
    ]
    assert "crashed" in _cli_runs(stack_file).splitlines()[1].split()
    with TestClient(create_app(stack), base_url="http://127.0.0.1") as client:
        [listed] = client.get("/api/runs", params={"project": "demo"}).json()["items"]
        assert listed["status"] == "crashed"
        crashed = client.get("/api/runs", params={"status": "crashed"}).json()["items"]
        assert [r["run_id"] for r in crashed] == ["victim"]
        assert client.get("/api/runs", params={"status": "running"}).json()["items"] == []
        shown = client.get("/api/runs/demo/victim").json()
        assert shown["status"] == "crashed" and shown["steps"][0]["status"] == "crashed"

    with fa.run(project="demo", run_id="alive", stack=stack):
        statuses = {r.run_id: r.status for r in stack.catalog.runs("demo")}
        assert statuses == {"victim": "crashed", "alive": "running"}
        listed = json.loads(_cli_runs(stack_file, "--json"))["items"]
        assert {r["run_id"]: r["status"] for r in listed} == statuses
    assert {r.run_id: r.status for r in stack.catalog.runs("demo")}["alive"] == "completed"


def test_a_run_of_another_host_is_crashed_only_once_its_heartbeat_is_stale(stack):
    with fa.run(project="demo", run_id="remote", stack=stack):
        pass
    fresh = datetime.now(timezone.utc)
    with stack.catalog.engine.begin() as conn:
        conn.execute(
            update(t.runs).values(
                status="running", ended=None, host="elsewhere", pid=1, heartbeat=fresh
            )
        )
    assert stack.catalog.runs("demo")[0].status == "running"
    stale = fresh - liveness.STALE_AFTER - timedelta(seconds=1)
    with stack.catalog.engine.begin() as conn:
        conn.execute(update(t.runs).values(heartbeat=stale))
    assert stack.catalog.runs("demo")[0].status == "crashed"


def test_an_open_run_renews_its_heartbeat_and_stops_at_its_end(stack, monkeypatch):
    monkeypatch.setattr(liveness, "HEARTBEAT_S", 0.05)
    with fa.run(project="demo", run_id="long", stack=stack):
        first = stack.catalog.runs("demo")[0].heartbeat
        deadline = time.monotonic() + 30
        while stack.catalog.runs("demo")[0].heartbeat == first:
            assert time.monotonic() < deadline, "the heartbeat was never renewed"
            time.sleep(0.05)
    deadline = time.monotonic() + 30
    while any(th.name == "flow-artifacts-heartbeat" for th in threading.enumerate()):
        assert time.monotonic() < deadline, "the heartbeat outlived its run"
        time.sleep(0.01)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX process ids")
def test_process_alive_tells_a_reaped_and_an_unreaped_dead_process_from_a_live_one():
    assert liveness.process_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    assert liveness.process_alive(child.pid)
    os.kill(child.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while liveness.process_alive(child.pid):  # a zombie until reaped: already dead
        assert time.monotonic() < deadline
        time.sleep(0.01)
    child.wait(timeout=60)
    assert not liveness.process_alive(child.pid)


def test_closing_the_catalog_stops_the_heartbeat_of_what_was_left_open(tmp_path, monkeypatch):
    """A framework that never finished a step run leaves it open; closing the stack must not
    leave a thread renewing it (and writing to a closed catalog) for the rest of the process."""
    monkeypatch.setattr(liveness, "HEARTBEAT_S", 0.05)
    stack = fa.Stack.local(tmp_path / "fa")
    with fa.run(project="demo", stack=stack) as run:
        run.start_step("never-finished")

    def beating() -> bool:
        return any(
            th.name == "flow-artifacts-heartbeat" and th.is_alive() for th in threading.enumerate()
        )

    assert beating()
    stack.close()
    deadline = time.monotonic() + 30
    while beating():
        assert time.monotonic() < deadline, "the heartbeat outlived its catalog"
        time.sleep(0.05)


def test_an_open_run_on_an_in_memory_catalog_is_not_reported_crashed(monkeypatch) -> None:
    """The heartbeat is skipped for in-memory SQLite, but staleness still applies: a run longer
    than STALE_AFTER (2 min) reads as crashed while its writer, this process, is running it."""
    monkeypatch.setattr(liveness, "HEARTBEAT_S", 0.05)
    monkeypatch.setattr(liveness, "STALE_AFTER", timedelta(seconds=0.3))
    store = fa.ArtifactStore(f"memory://liveness-{time.time_ns()}")
    stack = fa.Stack(store=store, catalog=fa.Catalog("sqlite://"), project="demo")
    with fa.run(project="demo", stack=stack) as run:
        time.sleep(1.0)  # several heartbeats and past STALE_AFTER
        statuses = [r.status for r in stack.catalog.runs("demo") if r.run_id == run.id]
    assert statuses == ["running"]
