"""The `flow-artifacts` command line, as a user runs it: output, exit codes, errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import blake3
import pandas as pd
import pytest
from click.testing import CliRunner

import flow_artifacts as fa
from flow_artifacts.cli.main import cli
from tests.gc_support import dead_write


@pytest.fixture
def populated(tmp_path, monkeypatch):
    """The embedded default stack in a fresh directory, with a small lineage chain in it."""
    monkeypatch.chdir(tmp_path)
    raw = fa.materialize({"rows": 3}, "raw", "r1", "ingest", "demo", labels={"team": "risk"})
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    clean = fa.materialize(frame, "clean", "r1", "prep", "demo", inputs=[raw])
    fa.materialize(frame, "clean", "r2", "prep", "demo")
    return raw, clean


def run(*args: str, ok: bool = True):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output + result.stderr
    return result


def test_ls_lists_newest_first_and_filters(populated):
    lines = run("ls", "demo").stdout.splitlines()
    assert lines[0].split()[:3] == ["ARTIFACT", "KIND", "MATERIALIZER"]
    assert [line.split()[0] for line in lines[1:]] == ["demo/clean@2", "demo/clean@1", "demo/raw@1"]
    risk = json.loads(run("ls", "--label", "team=risk", "--json").stdout)
    assert [item["uri"] for item in risk["items"]] == ["store://demo/raw@1"]
    page = json.loads(run("ls", "--limit", "2", "--json").stdout)
    rest = json.loads(run("ls", "--limit", "2", "--cursor", page["next_cursor"], "--json").stdout)
    assert len(page["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None


def refs(*args: str) -> list[str]:
    """The artifacts `ls ARGS` prints, as `project/name@version`."""
    return [line.split()[0] for line in run("ls", *args).stdout.splitlines()[1:]]


def test_ls_filters_by_tag_label_key_text_and_relative_time(populated):
    raw, _ = populated
    fa.tag("demo/clean@1", "prod")
    fa.update(raw, description="100% of the_source")
    assert refs("--tag", "prod") == ["demo/clean@1"]
    assert refs("--label", "team") == refs("--label", "team=risk") == ["demo/raw@1"]
    assert refs("--search", "RISK") == refs("--search", "100% of") == ["demo/raw@1"]
    assert refs("--search", "_") == ["demo/raw@1"]  # `_` and `%` are characters, not patterns
    assert len(refs("--since", "1h", "--until", "now")) == 3 == len(refs("--since", "today"))
    assert refs("--until", "yesterday") == [] and refs("--since", "2026-01-01") != []
    assert len(json.loads(run("runs", "--since", "2d", "--json").stdout)["items"]) == 2
    assert json.loads(run("runs", "--until", "1w", "--json").stdout)["items"] == []


@pytest.mark.parametrize(
    "option, value",
    [("--tag", "../x"), ("--tag", "prod%"), ("--label", "te%m"), ("--label", "a\\b=c"),
     ("--search", "\\"), ("--search", "\\%"), ("--search", "x" * 10_000), ("--search", "'; --"),
     ("--search", "\x1b[2J"), ("--name", "a_b%")],
)  # fmt: skip
def test_odd_filter_values_match_nothing_and_break_nothing(populated, option, value):
    result = run("ls", option, value)
    assert result.stdout == "" and "no artifacts" in result.stderr
    assert len(refs()) == 3  # the catalog is as it was


@pytest.mark.parametrize("command", ["ls", "runs"])
@pytest.mark.parametrize("typed", ["3x", "yesterday-ish", "-2d", "\x1b[2J1d", "9" * 40 + "w"])
def test_a_bad_time_is_one_clear_error_everywhere(populated, tmp_path, command, typed):
    for where in (".", str(tmp_path / "empty")):  # with a stack, and with none
        Path(where).mkdir(exist_ok=True)
        result = subprocess.run(
            [sys.executable, "-m", "flow_artifacts", command, "--since", typed],
            capture_output=True, text=True, cwd=where, timeout=60,
        )  # fmt: skip
        assert result.returncode == 1 and result.stdout == ""
        first = result.stderr.splitlines()[0]
        assert first.startswith("error: --since ") and "is not a time; write 2d, 3h" in first
        assert "\x1b" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "empty" / ".flow_artifacts").exists()


def test_show_versions_and_tag(populated):
    run("tag", "store://demo/clean@1", "prod")
    shown = json.loads(run("show", "store://demo/clean:prod", "--json").stdout)
    assert shown["version"] == 1 and shown["tags"] == ["prod"]
    assert shown["metadata"]["rows"] == 3
    table = run("versions", "demo/clean").stdout.splitlines()
    assert table[1].split()[0] == "2" and table[2].split()[0] == "1" and table[2].endswith("prod")
    run("untag", "store://demo/clean@1", "prod")
    assert json.loads(run("show", "store://demo/clean@1", "--json").stdout)["tags"] == []


def test_cat_prints_reports_and_table_previews(populated):
    assert json.loads(run("cat", "store://demo/raw").stdout) == {"rows": 3}
    table = run("cat", "store://demo/clean").stdout.splitlines()
    assert table[0].split() == ["a", "b"] and table[1].split() == ["1", "x"]


def test_get_to_stdout_pipes_the_verified_bytes(populated):
    command = [sys.executable, "-m", "flow_artifacts", "get", "store://demo/clean@1", "-o", "-"]
    piped = subprocess.run(command, capture_output=True, timeout=60)
    assert piped.returncode == 0, piped.stderr
    assert populated[1].checksum == "blake3:" + blake3.blake3(piped.stdout).hexdigest()
    assert pd.read_parquet(io.BytesIO(piped.stdout)).shape == (3, 2)


def test_get_into_a_path_blocked_by_a_file_is_a_clear_error(populated, tmp_path):
    (tmp_path / "afile").write_text("in the way")
    blocked = run("get", "store://demo/raw", "-o", "afile/raw.json", ok=False)
    assert blocked.exit_code == 1 and "a file is in the way of its folder" in blocked.stderr
    assert (tmp_path / "afile").read_text() == "in the way"


def test_cat_prints_an_uploaded_text_file(populated, tmp_path):
    (tmp_path / "notes.txt").write_text("first line\nsecond line\n")
    fa.upload_file(tmp_path / "notes.txt", name="notes", project="demo")
    assert run("cat", "store://demo/notes").stdout == "first line\nsecond line\n\n"


def test_get_downloads_verified_bytes(populated, tmp_path):
    out = tmp_path / "out" / "clean.parquet"
    printed = run("get", "store://demo/clean@1", "-o", str(out)).stdout.strip()
    assert printed == str(out)
    pd.testing.assert_frame_equal(pd.read_parquet(out), fa.load("store://demo/clean@1"))


def test_get_into_a_folder_and_fa_download_name_the_file_alike(populated, tmp_path):
    for folder in ("by-cli", "by-api"):
        (tmp_path / folder).mkdir()
    got = Path(run("get", "demo/clean@1", "-o", "by-cli").stdout.strip())
    downloaded = fa.download(populated[1], tmp_path / "by-api")
    assert got.name == downloaded.name == "clean-v1.parquet"
    here = Path(run("get", "demo/clean@1").stdout.strip())
    assert here.name == got.name and here.read_bytes() == downloaded.read_bytes()
    again = run("get", "demo/clean@1", "-o", "by-cli", ok=False)
    assert again.exit_code == 1 and "--force" in again.stderr and str(tmp_path) not in again.stderr
    run("get", "demo/clean@1", "-o", "by-cli", "--force")


def test_lineage_formats(populated):
    tree = run("lineage", "store://demo/clean@1").stdout.splitlines()
    assert tree == [
        "demo/clean@1",
        "└── step r1/prep",
        "    └── demo/raw@1",
        "        └── step r1/ingest",
    ]
    down = run("lineage", "store://demo/raw", "--down").stdout
    assert "demo/clean@1" in down
    assert run("lineage", "store://demo/clean@1", "--format", "mermaid").stdout.startswith(
        "graph LR"
    )
    events = json.loads(run("lineage", "store://demo/clean@1", "--format", "openlineage").stdout)
    assert {e["job"]["name"] for e in events} == {"prep", "ingest"}


def test_rm_refuses_what_lineage_needs_then_forces(populated):
    result = run("rm", "store://demo/raw", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "hint: " in result.stderr
    assert "Traceback" not in result.output + result.stderr
    run("rm", "store://demo/raw", "--force")
    run("rm", "store://demo/clean", "--all-versions")
    assert json.loads(run("ls", "--json").stdout)["items"] == []


def test_verify_reports_damage_with_exit_1(populated):
    assert "3 ok, 0 damaged" in run("verify", "--all").stderr
    _, clean = populated
    with open(clean.path, "r+b") as f:
        f.seek(20)
        f.write(b"\xff\xff")
    result = run("verify", "--all", ok=False)
    assert result.exit_code == 1 and "1 damaged" in result.stderr
    assert "demo/clean@1 " in result.stdout and "store://" not in result.stdout


def test_gc_lists_then_removes_what_dead_writes_left_and_keeps_the_unprovable(populated, tmp_path):
    root = tmp_path / ".flow_artifacts" / "artifacts"
    store = fa.ArtifactStore(root)
    killed = root / "demo" / "r9" / "s" / "killed.bin"
    killed.parent.mkdir(parents=True)
    killed.write_bytes(b"half")
    record = dead_write(store, "demo/r9/s/killed", "demo/r9/s/killed.bin")
    stray = root / "demo" / "r9" / "s" / "stray.bin"
    stray.write_bytes(b"no write recorded it")

    dry = run("gc", "--dry-run")
    assert dry.stdout.splitlines() == [
        "would remove demo/r9/s/killed.bin",
        f"would remove {record}",
    ]
    assert "kept 1 file(s)" in dry.stderr and killed.exists()
    run("gc")
    assert not killed.exists() and not (root / record).exists()
    assert stray.exists()
    assert json.loads(run("gc", "--json").stdout)["unaccounted"] == ["demo/r9/s/stray.bin"]
    assert len(json.loads(run("ls", "--json").stdout)["items"]) == 3


def cli_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flow_artifacts", *args], capture_output=True, text=True, timeout=60
    )


def test_reindex_after_losing_the_catalog(populated, tmp_path):
    for path in (tmp_path / ".flow_artifacts").glob("catalog.db*"):
        path.unlink()
    assert "added 3 artifact(s)" in cli_process("reindex").stdout
    assert len(json.loads(cli_process("ls", "--json").stdout)["items"]) == 3


def test_reindexed_pickles_load_only_once_trusted(populated, tmp_path):
    fa.materialize({"a": {1, 2}}, "model", "r1", "fit", "demo", materializer="cloudpickle")
    for path in (tmp_path / ".flow_artifacts").glob("catalog.db*"):
        path.unlink()
    assert cli_process("reindex").returncode == 0
    rebuilt = fa.Stack.local(tmp_path / ".flow_artifacts")  # not the one cached before
    with pytest.raises(fa.PickleRefused, match="flow-artifacts trust store://demo/model@1"):
        fa.load("store://demo/model", stack=rebuilt)
    trusted = cli_process("trust", "store://demo/model")
    assert trusted.returncode == 0 and "trusted demo/model@1" in trusted.stdout
    assert fa.load("store://demo/model", stack=rebuilt) == {"a": {1, 2}}
    missing = cli_process("trust", "store://demo/nothing")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr


def test_reindex_trust_pickles_trusts_every_restored_pickle(populated, tmp_path):
    fa.materialize({"a": {3}}, "model", "r1", "fit", "demo", materializer="cloudpickle")
    for path in (tmp_path / ".flow_artifacts").glob("catalog.db*"):
        path.unlink()
    assert "added 4 artifact(s)" in cli_process("reindex", "--trust-pickles").stdout
    rebuilt = fa.Stack.local(tmp_path / ".flow_artifacts")
    assert fa.load("store://demo/model", stack=rebuilt) == {"a": {3}}


def test_explain_plugins_and_stack(populated):
    assert "pandas.parquet" in run("explain", "pandas.DataFrame").stdout
    assert run("explain", "{'a': {1, 2}}").stdout.startswith("builtins.dict -> cloudpickle")
    assert run("explain", "int").stdout.startswith("builtins.int -> builtins.json")
    plugins = json.loads(run("plugins", "--json").stdout)["items"]
    assert {"pandas_parquet", "numpy_npy"} <= {p["name"] for p in plugins}
    why = json.loads(run("explain", "int", "--json").stdout)
    assert why["materializer"] == "builtins.json" and why["error"] is None
    shown = json.loads(run("stack", "show", "--json").stdout)
    assert shown["source"] == "(embedded default)"


def test_usage_errors_exit_2_and_bad_refs_exit_1(populated):
    assert run("ls", "--kind", "nonsense", ok=False).exit_code == 2
    assert run("verify", ok=False).exit_code == 2
    bad = run("show", "store://demo", ok=False)
    assert bad.exit_code == 1 and "cannot parse artifact reference" in bad.stderr
    assert "hint" not in bad.stderr  # the message says what to write; no stack hint


def test_stack_validate_checks_every_stack_and_only_stack_errors_hint_at_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "multi.yaml").write_text(
        "active: dev\nstacks:\n  dev:\n    artifact_store: {url: ./a}\n"
        "  prod:\n    artifact_store: {url: ./b}\n"
        "    materializers: {pandas.DataFrame: pandas.parqet}\n"
    )
    checked = run("stack", "validate", "multi.yaml", ok=False)
    assert checked.exit_code == 1 and "stacks.prod.materializers" in checked.stderr
    assert "unknown materializer 'pandas.parqet'" in checked.stderr
    opened = run("--stack", "multi.yaml", "ls", ok=False)
    assert "hint: check the stack with `flow-artifacts stack validate`" in opened.stderr


def test_a_closed_pipe_ends_the_output_quietly(populated):
    reader = subprocess.Popen(
        [sys.executable, "-m", "flow_artifacts", "ls", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    reader.stdout.close()  # like `| head` exiting before the listing is written
    assert reader.wait(timeout=60) == 1
    assert reader.stderr.read() == b""


def test_python_dash_m_runs_the_cli(populated):
    result = cli_process("ls", "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["items"]) == 3


def test_demo_runs_the_pipeline_into_the_active_stack(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = run("demo").stdout
    assert "completed" in out and "store://quickstart/report@1" in out
    report = json.loads(run("cat", "store://quickstart/report").stdout)
    assert set(report) == {"rows", "rmse", "r2"}
    assert "── step " in run("lineage", "store://quickstart/report").stdout


IMPORTS_AFTER = """
import sys
from flow_artifacts.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = [m for m in ("sqlalchemy", "fsspec", "pandas", "pyarrow", "starlette")
         if m in sys.modules]
if sys.argv[1] == "ls":  # the other commands' modules load only for --help or when they run
    later = ("flow_artifacts.cli.ui", "flow_artifacts.cli.compare")
    heavy += [m for m in later if m in sys.modules]
print("HEAVY", heavy, file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["ls"], ["ls", "--json"]])
def test_help_and_ls_in_an_empty_folder_open_nothing_and_create_nothing(tmp_path, args):
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS_AFTER, *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stderr
    assert list(tmp_path.iterdir()) == []
    if args == ["ls"]:
        assert "no artifacts (no stack here" in done.stderr and "flow-artifacts demo" in done.stderr
    if "--json" in args:
        assert json.loads(done.stdout) == {"items": [], "next_cursor": None, "total": 0}


def test_ls_of_a_project_in_an_empty_folder_is_an_error_that_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("ls", "demo", ok=False)
    assert result.exit_code == 1 and "no stack here" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args", [["show", "demo/x"], ["cat", "demo/x"], ["lineage", "demo/x"], ["verify", "--all"]]
)
def test_reading_where_there_is_no_stack_says_so_and_creates_nothing(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    result = run(*args, ok=False)
    assert result.exit_code == 1 and "no stack here" in result.stderr
    assert "hint:" not in result.stderr and list(tmp_path.iterdir()) == []
    assert "no runs (no stack here" in run("runs").stderr
