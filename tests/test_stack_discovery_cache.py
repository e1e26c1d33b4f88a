"""The stack file found above the current folder is remembered, and forgotten as soon as what the
answer rests on changes: a file added, edited, made untrusted, removed, or the folder left."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.stack.discovery import find_stack_file

HOUR_AGO = time.time() - 3600


@pytest.fixture(autouse=True)
def _home(monkeypatch, tmp_path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("FLOW_ARTIFACTS_STACK", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home


def settle(*paths: Path) -> None:
    """Times an hour old: the answer resting on them is remembered (recent ones are not, since
    a change within the filesystem's clock tick would not show)."""
    for path in paths:
        os.utime(path, (HOUR_AGO, HOUR_AGO), follow_symlinks=False)


def tree(home: Path) -> tuple[Path, Path]:
    top = home / "work"
    below = top / "project" / "notebooks"
    below.mkdir(parents=True)
    return top, below


def test_a_stack_file_added_after_the_first_answer_is_found(_home):
    top, below = tree(_home)
    settle(below, below.parent, top, _home)
    assert find_stack_file(below) is None
    assert find_stack_file(below) is None  # remembered

    (top / "flow_artifacts.yaml").write_text("project: top\n")
    assert find_stack_file(below) == top / "flow_artifacts.yaml"

    (below / "flow_artifacts.yaml").write_text("project: nearer\n")
    assert find_stack_file(below) == below / "flow_artifacts.yaml"


def test_a_remembered_file_made_untrusted_or_removed_is_not_used(_home):
    top, below = tree(_home)
    stack_file = top / "flow_artifacts.yaml"
    stack_file.write_text("project: top\n")
    stack_file.chmod(0o644)
    settle(stack_file, below, below.parent, top, _home)
    assert find_stack_file(below) == stack_file
    assert find_stack_file(below) == stack_file  # remembered

    stack_file.chmod(0o664)  # group-writable: not the user's own any more
    with pytest.raises(fa.ConfigError, match="writable by group or others"):
        find_stack_file(below)
    stack_file.chmod(0o644)
    settle(stack_file)
    assert find_stack_file(below) == stack_file

    stack_file.unlink()
    assert find_stack_file(below) is None


def test_a_remembered_file_replaced_by_a_link_to_another_is_followed(_home, tmp_path):
    top, below = tree(_home)
    stack_file = top / "flow_artifacts.yaml"
    stack_file.write_text("project: top\n")
    other = tmp_path / "other.yaml"
    other.write_text("project: other\n")
    settle(stack_file, other, below, below.parent, top, _home)
    assert find_stack_file(below) == stack_file

    os.replace(stack_file, tmp_path / "moved.yaml")
    stack_file.symlink_to(other)
    settle(top)  # even if the folder's time did not move, the file's own state did
    found = find_stack_file(below)
    assert found == stack_file and found.read_text() == "project: other\n"


def test_the_active_stack_follows_edits_and_folder_changes(_home, monkeypatch):
    top, below = tree(_home)
    stack_file = top / "flow_artifacts.yaml"
    stack_file.write_text("project: first\n")
    settle(stack_file, below, below.parent, top, _home)
    monkeypatch.chdir(below)
    assert fa.get_stack().project == "first"
    assert fa.get_stack().project == "first"

    stack_file.write_text("project: second\n")
    assert fa.get_stack().project == "second"

    elsewhere = _home / "elsewhere"
    elsewhere.mkdir()
    settle(elsewhere, _home)
    monkeypatch.chdir(elsewhere)
    assert fa.get_stack().name == "local"  # no stack file there: the embedded default
