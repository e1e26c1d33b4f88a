"""The command line at a real terminal (a pseudo-terminal): width, colour, pager, questions,
times with their zone, one JSON family, the editing commands and shell completion."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import flow_artifacts as fa
from flow_artifacts.cli.main import cli

ANSI = re.compile(r"\x1b\[[0-9;]*m")
TTY_ENV = {"TERM": "xterm", "TZ": "UTC", "PAGER": "sed -e s/^/PAGED:/"}


@pytest.fixture
def catalog(tmp_path, monkeypatch):
    """A default stack with a wide table, two versions of a report and a short lineage."""
    monkeypatch.chdir(tmp_path)
    wide = pd.DataFrame({f"column_with_a_long_name_{i}": ["x" * 40] for i in range(8)})
    raw = fa.materialize(wide, "a_rather_long_artifact_name_for_width", "r1", "ingest", "demo")
    fa.materialize({"v": 1}, "report", "r1", "score", "demo", inputs=[raw])
    fa.materialize({"v": 2}, "report", "r2", "score", "demo", inputs=[raw])
    return tmp_path


def in_terminal(
    cwd: Path, *args: str, columns: int = 60, lines: int = 40, answer: str = "", **env: str
) -> tuple[int, str]:
    """Run the CLI with stdin, stdout and stderr on a pseudo-terminal of that size."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    environment.update(TTY_ENV, LINES=str(lines), **env)
    process = subprocess.Popen(
        [sys.executable, "-m", "flow_artifacts", *args],
        stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=environment, close_fds=True,
    )  # fmt: skip
    os.close(slave)
    if answer:
        time.sleep(0.5)  # typed after the question is up, as a person would
        os.write(master, answer.encode())
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    code = process.wait(timeout=60)
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def test_tables_fit_the_terminal_and_wide_shows_everything(catalog):
    code, shown = in_terminal(catalog, "ls", "demo", columns=60)
    assert code == 0, shown
    table = [ANSI.sub("", line) for line in shown.splitlines() if line.strip()][:4]
    assert all(len(line) <= 60 for line in table), table
    assert "…" in shown and "MATERIALIZER" not in shown  # dropped before anything is cut
    code, wide = in_terminal(catalog, "ls", "demo", "--wide", columns=60)
    assert "MATERIALIZER" in wide and "demo/a_rather_long_artifact_name_for_width@1" in wide
    cat = in_terminal(catalog, "cat", "demo/a_rather_long_artifact_name_for_width", columns=70)[1]
    assert max(len(ANSI.sub("", line)) for line in cat.splitlines()) <= 70
    piped = subprocess.run(
        [sys.executable, "-m", "flow_artifacts", "ls", "demo"],
        capture_output=True, text=True, cwd=catalog, env={**os.environ, "COLUMNS": "60"},
    )  # fmt: skip
    assert "MATERIALIZER" in piped.stdout and "…" not in piped.stdout  # scripts get it whole


def test_colour_on_a_terminal_unless_no_color(catalog):
    code, shown = in_terminal(catalog, "runs")
    assert code == 0 and "\x1b[1mPROJECT" in shown
    assert "\x1b[" not in in_terminal(catalog, "runs", NO_COLOR="1")[1]
    command = [sys.executable, "-m", "flow_artifacts", "runs"]
    piped = subprocess.run(command, capture_output=True, text=True, cwd=catalog)
    assert "\x1b[" not in piped.stdout
    code, failed = in_terminal(catalog, "show", "demo/nope")
    assert code == 1 and "\x1b[31m\x1b[1merror:" in failed.replace("\x1b[1m\x1b[31m", "")


def test_long_output_goes_through_the_pager_short_output_does_not(catalog):
    code, long = in_terminal(catalog, "show", "demo/report", lines=10)
    assert code == 0 and "PAGED:" in ANSI.sub("", long) and "checksum" in long
    code, short = in_terminal(catalog, "versions", "demo/report", lines=40)
    assert code == 0 and "PAGED:" not in short and "report" not in short.split("\n")[0]


def test_rm_asks_on_a_terminal_and_yes_skips_the_question(catalog):
    code, shown = in_terminal(catalog, "rm", "demo/report@1", answer="n\n")
    assert code == 1 and "delete demo/report@1?" in shown and "nothing changed" in shown
    assert fa.get_artifact("demo/report@1").version == 1
    code, shown = in_terminal(catalog, "rm", "demo/report", "--all-versions", answer="y\n")
    assert code == 0 and "delete all 2 version(s) of demo/report?" in shown
    assert "deleted 2 artifact(s)" in shown
    fa.materialize({"v": 3}, "report", "r3", "score", "demo")
    code, shown = in_terminal(catalog, "rm", "demo/report", "--yes")
    assert code == 0 and "?" not in shown and "deleted 1" in shown
    assert in_terminal(catalog, "gc", answer="n\n")[0] == 0  # nothing to remove: no question


def test_gc_says_what_it_would_remove_and_asks(catalog):
    code, shown = in_terminal(catalog, "gc", "--keep-last", "1", answer="n\n")
    assert code == 1 and "1 old version(s)?" in shown and "nothing changed" in shown
    assert fa.get_artifact("demo/report@1").version == 1
    code, shown = in_terminal(catalog, "gc", "--keep-last", "1", "--yes")
    assert code == 0 and "?" not in shown and "removed demo/report@1" in shown
    with pytest.raises(fa.ArtifactNotFound):
        fa.get_artifact("demo/report@1")


def test_tag_says_when_it_moves(catalog):
    runner = CliRunner()
    first = runner.invoke(cli, ["tag", "demo/report@1", "prod"])
    assert first.stdout.strip() == "tagged demo/report@1 as 'prod'"
    moved = runner.invoke(cli, ["tag", "demo/report@2", "prod", "--json"])
    assert json.loads(moved.stdout)["moved_from"] == 1
    again = runner.invoke(cli, ["tag", "demo/report@1", "prod"])
    assert again.stdout.strip() == "moved tag 'prod' from demo/report@2 to demo/report@1"


def test_times_carry_their_zone(catalog):
    for zone, name in (("UTC", "UTC"), ("Asia/Tokyo", "JST")):
        done = subprocess.run(
            [sys.executable, "-m", "flow_artifacts", "versions", "demo/report"],
            capture_output=True, text=True, cwd=catalog, env={**os.environ, "TZ": zone},
        )  # fmt: skip
        assert re.search(rf"\d\d:\d\d:\d\d {name}\b", done.stdout), done.stdout
    record = json.loads(CliRunner().invoke(cli, ["show", "demo/report", "--json"]).stdout)
    assert record["created"].endswith("+00:00")  # JSON keeps ISO 8601 with its offset


def test_every_json_output_is_one_object_of_the_family(catalog):
    runner = CliRunner()

    def shape(*args: str) -> dict:
        result = runner.invoke(cli, [*args, "--json"])
        assert result.exit_code == 0, result.output
        found = json.loads(result.stdout)
        assert isinstance(found, dict)
        return found

    for listing in (["ls"], ["versions", "demo/report"], ["runs"], ["verify", "--all"]):
        assert set(shape(*listing)) == {"items", "next_cursor", "total"}, listing
    record = shape("show", "demo/report")
    assert shape("ls")["items"][0].keys() <= record.keys()
    assert shape("versions", "demo/report")["items"][0]["uri"] == "store://demo/report@2"
    cat = shape("cat", "demo/report")
    assert cat["content"] == {"v": 2} and record == record | cat["artifact"]
    table = shape("cat", "demo/a_rather_long_artifact_name_for_width")["content"]
    assert table["total_rows"] == 1 and len(table["columns"]) == 8
    got = shape("get", "demo/report", "-o", str(catalog / "out"))
    assert got["artifact"]["uri"] == "store://demo/report@2" and Path(got["path"]).is_file()
    assert shape("tag", "demo/report", "best")["artifact"]["version"] == 2
    assert shape("untag", "demo/report", "best")["untagged"] == "best"
    lineage = shape("lineage", "demo/report")
    assert {a["ref"] for a in lineage["artifacts"]} >= {"demo/report@2"}
    assert shape("describe", "demo/report")["versions"]["items"][1]["version"] == 1
    first = shape("show", "demo/report@1")["id"]
    assert shape("rm", "demo/report@1", "--yes") == {"deleted": [first]}


def test_upload_label_update_and_describe(catalog):
    (catalog / "notes.txt").write_text("hello\n")
    runner = CliRunner()
    uploaded = runner.invoke(
        cli, ["upload", "notes.txt", "notes", "-p", "docs", "--label", "team=x", "--json"]
    )
    assert uploaded.exit_code == 0, uploaded.output
    art = json.loads(uploaded.stdout)["artifact"]
    assert (art["project"], art["name"], art["labels"]) == ("docs", "notes", {"team": "x"})
    labelled = runner.invoke(cli, ["label", "docs/notes", "stage=prod", "--remove", "team"])
    assert labelled.stdout.strip() == "updated docs/notes@1"
    assert fa.get_artifact("docs/notes").labels == {"stage": "prod"}
    runner.invoke(cli, ["update", "docs/notes", "--description", "the notes", "--metadata", "{}"])
    updated = runner.invoke(cli, ["update", "docs/notes", "--metadata", '{"owner": "me"}'])
    assert updated.exit_code == 0, updated.output
    shown = fa.get_artifact("docs/notes")
    assert shown.description == "the notes" and shown.manifest.updated is not None
    described = runner.invoke(cli, ["describe", "docs/notes"]).stdout
    assert "the notes" in described and "VERSION" in described
    bad = runner.invoke(cli, ["update", "docs/notes", "--metadata", "[1]"])
    assert bad.exit_code == 1 and "JSON object" in bad.stderr
    nothing = runner.invoke(cli, ["label", "docs/notes"])
    assert nothing.exit_code == 2


def test_completion_prints_scripts_and_completes_projects_names_and_tags(catalog):
    runner = CliRunner()
    script = runner.invoke(cli, ["completion", "bash"])
    assert script.exit_code == 0 and "_FLOW_ARTIFACTS_COMPLETE" in script.stdout
    fa.tag("demo/report@1", "prod")

    def complete(*words: str, cwd: Path = catalog) -> list[str]:
        env = {
            **os.environ,
            "_FLOW_ARTIFACTS_COMPLETE": "bash_complete",
            "COMP_WORDS": " ".join(["flow-artifacts", *words]),
            "COMP_CWORD": str(len(words)),
        }
        done = subprocess.run(
            [sys.executable, "-m", "flow_artifacts"], capture_output=True, text=True,
            cwd=cwd, env=env,
        )  # fmt: skip
        return [line.split(",", 1)[1] for line in done.stdout.splitlines() if "," in line]

    assert "show" in complete("sh")
    assert complete("show", "de") == ["demo/"]
    assert "demo/report" in complete("show", "demo/re")
    assert complete("show", "demo/report:") == ["demo/report:prod"]
    assert complete("versions", "demo/report@") == ["demo/report@2", "demo/report@1"]
    assert complete("ls", "d") == ["demo"]
    elsewhere = catalog / "elsewhere"
    elsewhere.mkdir()  # no stack there: completion offers nothing, and creates nothing
    assert complete("show", "de", cwd=elsewhere) == [] and not list(elsewhere.iterdir())


def test_lineage_marks_failed_steps_and_repeated_nodes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    @fa.step(outputs="seed")
    def seed() -> dict:
        return {"a": 1}

    @fa.step(outputs="left")
    def left(seed: dict) -> dict:
        return {**seed, "left": True}

    @fa.step(outputs="right")
    def right(seed: dict) -> dict:
        return {**seed, "right": True}

    @fa.step(outputs="joined")
    def join(left: dict, right: dict) -> dict:
        return left | right

    @fa.step(outputs="broken")
    def broken(joined: dict) -> dict:
        raise ValueError("no")

    @fa.pipeline(project="demo")
    def flow() -> Any:
        s = seed()
        return broken(join(left(s), right(s)))

    with pytest.raises(ValueError):
        flow()
    tree = CliRunner().invoke(cli, ["lineage", "demo/seed", "--down"]).stdout.splitlines()
    assert tree[0] == "demo/seed@1"
    failed = [line for line in tree if line.endswith("✗ failed")]
    assert len(failed) == 1 and "── step " in failed[0] and "/broken" in failed[0], tree
    repeated = [line for line in tree if line.endswith("↑ repeated, expanded above")]
    assert len(repeated) == 1 and "/join" in repeated[0], tree
    assert any(line.startswith("│   ") for line in tree) and tree[1].startswith("├── "), tree
