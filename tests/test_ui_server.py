"""The browser as a served program: `flow-artifacts ui`, a real socket, and what never leaves it."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.cli.ui import is_loopback, ui
from flow_artifacts.ui.app import create_app
from flow_artifacts.ui.server import bind, serve_in_thread

SECRET = "s3cr3t-Value-42"
SECRET_ENV = "FA_UI_TEST_STORE_TOKEN"


def secret_stack(folder: Path, monkeypatch: pytest.MonkeyPatch) -> fa.Stack:
    """A stack file whose store takes a `${VAR}` secret in storage_options, and artifacts into
    which that secret leaked: a description, a label, a report, a failed step's error."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    (folder / "stack.yaml").write_text(
        "project: demo\n"
        "artifact_store:\n"
        "  url: ./store\n"
        "  storage_options:\n"
        "    auto_mkdir: true\n"
        f"    token: ${{{SECRET_ENV}}}\n"
    )
    stack = fa.Stack.from_yaml(folder / "stack.yaml")
    assert stack.secrets == (SECRET,)
    raw = fa.materialize(
        {"api_token": SECRET},
        "raw",
        "r1",
        "ingest",
        "demo",
        stack=stack,
        labels={"origin": f"token {SECRET}"},
        description=f"got {SECRET}",
    )
    fa.materialize(
        pd.DataFrame({SECRET: [1]}), "clean", "r1", "prep", "demo", inputs=[raw], stack=stack
    )
    fa.add_metadata(raw, "auth", {"used": SECRET}, stack=stack)

    @fa.step
    def leaky() -> None:
        raise RuntimeError(f"cannot connect with {SECRET}")

    with fa.use_stack(stack), fa.run(project="demo", name="broken"), pytest.raises(RuntimeError):
        leaky()
    return stack


def test_no_response_shows_a_storage_option_secret(tmp_path, monkeypatch):
    stack = secret_stack(tmp_path, monkeypatch)
    with TestClient(create_app(stack), base_url="http://127.0.0.1") as client:
        bodies = [client.get(u).text for u in ("/", "/runs", "/api/info", "/api/runs")]
        items = client.get("/api/artifacts").json()["items"]
        assert items
        for item in items:
            for prefix in ("artifacts", "preview", "lineage", "versions"):
                bodies.append(client.get(f"/api/{prefix}/{item['id']}").text)
        for run in client.get("/api/runs").json()["items"]:
            bodies.append(client.get(f"/api/runs/{run['project']}/{run['run_id']}").text)
        bodies.append(client.get(f"/api/artifacts/demo/{SECRET}").text)  # 404 echoing the ref
    assert all(SECRET not in body for body in bodies)
    joined = "\n".join(bodies)
    assert "got ***" in joined and "token ***" in joined and "cannot connect with ***" in joined


def test_a_damaged_artifact_download_is_cut_short(tmp_path):
    stack = fa.Stack.local(tmp_path / "fa")
    art = fa.materialize(b"x" * 3_000_000, "blob", "r1", "s", "demo", stack=stack)
    with open(art.path, "r+b") as f:
        f.seek(2_999_000)
        f.write(b"y")
    with serve_in_thread(create_app(stack)) as url:
        with urllib.request.urlopen(f"{url}/api/content/{art.id}") as response:
            assert response.status == 200
            with pytest.raises(http.client.IncompleteRead):
                response.read()
    stack.close()


def run_command(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    code = "from flow_artifacts.cli.ui import ui; ui(prog_name='flow-artifacts ui')"
    return subprocess.Popen(
        [sys.executable, "-u", "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def started(process: subprocess.Popen[str]) -> tuple[list[str], str]:
    """The lines printed up to the URL to open, and that URL."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("open "):
            return lines, line.split()[1]
    raise AssertionError(
        f"no URL printed: {lines} {process.stderr.read() if process.stderr else ''}"
    )


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=20)


def fetch(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def local_stack_file(tmp_path: Path) -> Path:
    path = tmp_path / "flow_artifacts.yaml"
    path.write_text("project: demo\n")
    stack = fa.Stack.from_yaml(path)
    fa.materialize({"a": 1}, "raw", "r1", "ingest", "demo", stack=stack)
    stack.close()
    return path


def test_command_serves_read_only_on_loopback_and_says_so(local_stack_file):
    process = run_command("--stack", str(local_stack_file), "--port", "0")
    try:
        lines, url = started(process)
        assert "read-only" in lines[0] and "this machine can connect, no other can" in lines[1]
        assert url.startswith("http://127.0.0.1:")
        status, info = fetch(f"{url}api/info")
        assert status == 200 and info["projects"] == ["demo"] and info["allow_delete"] is False
    finally:
        assert stop(process) == 0


def test_command_token_auto_prints_a_url_that_carries_it(local_stack_file):
    process = run_command("--stack", str(local_stack_file), "--port", "0", "--token", "auto")
    try:
        _, url = started(process)
        base, _, token = url.partition("?token=")
        assert len(token) >= 24
        assert fetch(f"{base}api/info")[0] == 401
        request = urllib.request.Request(
            f"{base}api/info", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    finally:
        stop(process)


def test_command_reports_a_port_in_use_in_one_line(local_stack_file):
    taken = bind("127.0.0.1", 0)
    try:
        port = str(taken.getsockname()[1])
        result = CliRunner().invoke(ui, ["--stack", str(local_stack_file), "--port", port])
    finally:
        taken.close()
    assert result.exit_code == 1
    assert (
        result.output.startswith("Error: cannot listen on 127.0.0.1:") and "--port" in result.output
    )


def test_help_and_loopback_detection():
    result = CliRunner().invoke(ui, ["--help"])
    assert result.exit_code == 0
    for option in (
        "--stack",
        "--host",
        "--port",
        "--allow-delete",
        "--token",
        "FLOW_ARTIFACTS_UI_TOKEN",
    ):
        assert option in result.output
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.4", "example.com"))


def test_command_without_the_ui_extra_says_what_to_install(local_stack_file):
    code = (
        "import sys; sys.modules['starlette'] = None\n"
        "from flow_artifacts.cli.ui import ui; ui(prog_name='flow-artifacts ui')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "--stack", str(local_stack_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "pip install 'flow-artifacts[ui]'" in result.stderr and "Traceback" not in result.stderr
