"""Every way a careless or hostile user can break things ends in a message in their terms.

Each failure is driven through the API (`str(exc)`) and the command line (stdout and stderr of a
real process): what was wrong and what to do, with store-relative keys and references, never an
absolute path, an internal repr, or a traceback, and the CLI exits 1.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.errors import ArtifactDataMissing, FlowArtifactsError, IntegrityError

REPRS = re.compile(r"ArtifactStore\(|Catalog\(|Stack\(|StackConfig\(|object at 0x|Traceback")


@pytest.fixture
def broken(tmp_path, monkeypatch):
    """The embedded default stack with three reports, then damaged the ways users damage it."""
    monkeypatch.chdir(tmp_path)
    for name in ("edited", "missing", "garbled", "fine"):
        fa.materialize({"name": name}, name, "r1", "s", "demo")
    folder = tmp_path / ".flow_artifacts" / "artifacts" / "demo" / "r1" / "s"
    (folder / "edited.json").write_text('{"name": "changed"}')
    (folder / "missing.json").unlink()
    (folder / "garbled.artifact.json").write_text("{not json")
    copied = json.loads((folder / "fine.artifact.json").read_text())
    (folder / "copy.artifact.json").write_text(json.dumps(copied))  # the key disagrees
    (folder / "copy.json").write_text('{"name": "fine"}')
    (tmp_path / "bad.yaml").write_text("stacks:\n  a:\n    artifact_store: [\n")
    (tmp_path / "two.yaml").write_text(
        "active: a\nstacks:\n  a:\n    artifact_store:\n      url: ./a\n"
        "  b:\n    artifact_store:\n      url: ./b\n"
    )
    (tmp_path / "typo.yaml").write_text(
        "artifact_store:\n  url: ./t\nmaterializers:\n  pandas.DataFrme: builtin.parquet\n"
    )
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00 not text")
    (tmp_path / "folder.yaml").mkdir()
    (tmp_path / "nodb").mkdir()
    (tmp_path / "nodb" / "catalog.db").write_text("not a database")
    (tmp_path / "notdb.yaml").write_text(
        "artifact_store:\n  url: ./n\ncatalog:\n  url: sqlite:///nodb/catalog.db\n"
    )
    (tmp_path / "blocker").write_text("a file where a folder should be")
    return tmp_path


def _clean(text: str, root: Path) -> None:
    for form in {str(root), str(root.resolve()), str(Path.home())}:
        assert form not in text, text
    assert not REPRS.search(text), text


# (API call, CLI arguments, what the message must say)
FAILURES: list[tuple[Callable[[], object] | None, list[str], str]] = [
    (lambda: fa.load("demo/edited"), ["cat", "demo/edited"], "corrupted"),
    (lambda: fa.load("demo/missing"), ["get", "demo/missing", "-o", "out"], "missing"),
    (None, ["verify", "--all"], "do not match"),
    (None, ["reindex"], "not valid JSON"),
    (lambda: fa.load("demo/r1/s/copy"), ["show", "demo/r1/s/copy"], "key"),
    (lambda: fa.load("demo/nope"), ["show", "demo/nope"], "has no name 'nope'"),
    (lambda: fa.load("demo/fine@7"), ["cat", "demo/fine@7"], "versions: 1"),
    (lambda: fa.load("demo/fine:prod"), ["lineage", "demo/fine:prod"], "tags: none"),
    (lambda: fa.load("demo//x"), ["show", "demo//x"], "give a reference"),
    (lambda: fa.load("demo/fine@x"), ["show", "demo/fine@x"], "positive integer"),
    (lambda: fa.tag("demo/fine", "a b"), ["tag", "demo/fine", "a b"], "white space"),
    (lambda: fa.load("demo/fine", stack="bad.yaml"), ["ls", "--stack", "bad.yaml"], "invalid YAML"),
    (lambda: fa.load("demo/fine", stack="two.yaml#c"), ["ls", "--stack", "two.yaml#c"], "'c'"),
    (lambda: fa.load("demo/fine", stack="typo.yaml"), ["ls", "--stack", "typo.yaml"], "allowed"),
    (lambda: fa.load("x/y", stack="binary.yaml"), ["ls", "--stack", "binary.yaml"], "UTF-8"),
    (lambda: fa.load("x/y", stack="folder.yaml"), ["ls", "--stack", "folder.yaml"], "folder"),
    (lambda: fa.load("x/y", stack="absent.yaml"), ["ls", "--stack", "absent.yaml"], "not exist"),
    (lambda: fa.load("x/y", stack="notdb.yaml"), ["ls", "--stack", "notdb.yaml"], "not a data"),
    (
        lambda: fa.download("demo/fine", "blocker/sub/x.json"),
        ["get", "demo/fine", "-o", "blocker/sub/x.json"],
        "in the way",
    ),
    (None, ["get", "demo/fine", "-o", "blocker"], "--force"),
    (None, ["ls", "--run", "nope"], "no run 'nope'"),
    (None, ["ls", "nope"], "project 'nope' has no artifacts"),
    (None, ["versions", "demo/fnie"], "did you mean 'fine'"),
]


@pytest.mark.parametrize(
    ("call", "args", "says"), FAILURES, ids=[" ".join(args) for _, args, _ in FAILURES]
)
def test_failures_say_what_is_wrong_without_paths_or_reprs(broken, call, args, says):
    if call is not None:
        with pytest.raises(FlowArtifactsError) as caught:
            call()
        assert says in str(caught.value)
        _clean(str(caught.value), broken)
    done = subprocess.run(
        [sys.executable, "-m", "flow_artifacts", *args],
        capture_output=True,
        text=True,
        cwd=broken,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert says in done.stdout + done.stderr
    assert "error: " in done.stderr
    _clean(done.stdout + done.stderr, broken)


def test_missing_bytes_are_damage_to_repair(broken):
    with pytest.raises(ArtifactDataMissing, match="restore them from a backup") as caught:
        fa.load("demo/missing")
    assert isinstance(caught.value, IntegrityError)
    assert isinstance(caught.value, fa.ArtifactNotFound)


def test_a_memory_store_and_its_errors_name_it_by_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = fa.ArtifactStore("memory://hostile-errors")
    art = store.save({"a": 1}, "demo/r/s/x")
    store.fs.rm(store._abs(art.manifest.data_path))
    with pytest.raises(FlowArtifactsError) as caught:
        store.load(art)
    assert "store memory://hostile-errors" in str(caught.value)
    _clean(str(caught.value), tmp_path)


def test_a_path_the_user_gave_comes_back_relative(broken):
    with pytest.raises(fa.ArtifactNotFound) as caught:
        fa.upload_file(broken / "sub" / "missing.txt", "x", "demo")
    assert "sub/missing.txt" in str(caught.value)
    _clean(str(caught.value), broken)
