"""The smaller hostile inputs: device names, injected Mermaid, terminal escapes, impossible
versions, NUL bytes in stack files, and token redirects to other hosts."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.cli.main import cli
from flow_artifacts.errors import ConfigError, InvalidName
from flow_artifacts.naming import validate_name
from flow_artifacts.stack.strict_yaml import read_yaml
from flow_artifacts.ui.app import create_app
from flow_artifacts.ui.security import local_path


@pytest.mark.parametrize(
    "name", ["CON", "nul", "Aux", "PRN.txt", "com1", "COM9.tar.gz", "lpt1", "LPT0", "nul .json"]
)
def test_windows_device_names_are_refused_in_any_case_with_any_extension(name, stack):
    with pytest.raises(InvalidName, match="device name on Windows"):
        validate_name(name)
    with pytest.raises(InvalidName):
        fa.materialize({"a": 1}, name, "r1", "s", "demo", stack=stack)
    assert stack.catalog.count() == 0


@pytest.mark.parametrize("name", ["console", "nullable", "com10", "lpt", "aux-data", "my.con"])
def test_names_that_only_resemble_devices_are_fine(name):
    assert validate_name(name) == name


def test_mermaid_labels_cannot_inject_nodes_links_or_markup(stack):
    raw = fa.materialize({"a": 1}, "raw", "r1", "s", "demo", stack=stack)
    made = fa.materialize({"b": 1}, "made", "r1", "t", "demo", inputs=[raw], stack=stack)
    graph = fa.lineage(made, stack=stack)
    evil = 'x"])\n  click n1 "javascript:alert(1)"\n  y["<img src=x onerror=alert(1)>'
    for record in graph.step_runs.values():  # as an old or tampered catalog could hold them
        record.step = evil
    graph.artifacts[raw.id].name = evil
    lines = graph.to_mermaid().splitlines()
    node = r"n[0-9a-z]+"
    shape = re.compile(rf'^  {node}(\["[^"<>\[\]\n]*"\]|\(\["[^"<>\[\]\n]*"\]\)| --> {node})$')
    assert lines[0] == "graph LR" and len(lines) == 1 + 4 + 3  # 2 artifacts, 2 steps, 3 edges
    assert all(shape.match(line) for line in lines[1:]), lines
    assert "x#34;#93;)" in "".join(lines) and "#60;img" in "".join(lines)


def test_terminal_output_shows_control_characters_escaped(stack, tmp_path):
    art = fa.materialize(
        {"a": 1},
        "report",
        "r1",
        "s",
        "demo",
        labels={"note": "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil"},
        description="bell\x07 and escape\x1b[31m",
        stack=stack,
    )
    path = tmp_path / "stack.yaml"
    path.write_text(
        f"stacks:\n  main:\n    artifact_store: {{url: '{stack.store.url}'}}\n"
        f"    catalog: {{url: '{stack.catalog.url}'}}\n"
    )
    runner = CliRunner()
    shown = runner.invoke(cli, ["--stack", str(path), "show", art.uri])
    assert shown.exit_code == 0, shown.output
    assert not any(c in shown.stdout for c in "\x1b\x07\x9b\u202e")
    assert "\\u001b]0;pwned\\u0007" in shown.stdout  # labels print as JSON
    assert "\\x9b31m\\u202eevil" in shown.stdout
    assert "bell\\x07 and escape\\x1b[31m" in shown.stdout
    as_json = runner.invoke(cli, ["--stack", str(path), "show", art.uri, "--json"])
    assert not any(c in as_json.stdout for c in "\x1b\x07\x9b\u202e")
    assert (
        json.loads(as_json.stdout)["labels"]["note"] == "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil"
    )
    missing = runner.invoke(cli, ["--stack", str(path), "show", "store://demo/x\x1b[2J"])
    assert missing.exit_code == 1 and "\x1b" not in missing.stderr and "\\x1b[2J" in missing.stderr


def test_the_web_page_answers_404_to_impossible_versions(stack):
    art = fa.materialize({"a": 1}, "report", "r1", "s", "demo", stack=stack)
    with TestClient(create_app(stack), base_url="http://127.0.0.1") as client:
        for ref in (
            "store://demo/report@99999999999999999999999",
            "store://demo/report@2147483648",
        ):
            assert client.get(f"/api/artifacts/{ref}").status_code == 404
            assert client.get(f"/artifacts/{ref}").status_code == 404
        assert client.get("/api/artifacts/store://demo/report@\u00b2").status_code in (400, 404)
        versions = client.get(f"/api/versions/{art.id}", params={"cursor": "9" * 30})
        assert versions.status_code == 200 and versions.json()["items"][0]["id"] == art.id
    with pytest.raises(fa.errors.ArtifactNotFound):
        fa.get_artifact("store://demo/report@" + "9" * 40, stack=stack)


def test_a_nul_byte_in_a_stack_file_is_a_config_error_naming_file_and_line(tmp_path):
    path = tmp_path / "flow_artifacts.yaml"
    path.write_bytes(b"project: demo\ncatalog:\n  url: 'sqlite:///x\x00.db'\n")
    with pytest.raises(ConfigError, match=r"flow_artifacts\.yaml, line 3: .*U\+0000"):
        read_yaml(path)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("//evil.example/", "/evil.example/"),
        ("/\\evil.example/", "/evil.example/"),
        ("\\\\evil.example", "/evil.example"),
        ("/artifacts/a\r\nSet-Cookie: x", "/artifacts/a%0D%0ASet-Cookie:%20x"),
        ("/artifacts/store://demo/report@1", "/artifacts/store://demo/report@1"),
    ],
)
def test_redirect_targets_are_local_paths(path, expected):
    assert local_path(path) == expected


def test_the_token_redirect_does_not_follow_a_network_path(stack):
    app = create_app(stack, token="t0ken")
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as client:
        swap = client.get("http://127.0.0.1//evil.example/?token=t0ken&x=1")
    assert swap.status_code == 303 and swap.headers["location"] == "/evil.example/?x=1"
