"""Hostile-review: `errors.shown_path` (new) is called while an error is being raised; it must
not raise itself, e.g. when the current folder has been deleted (a temp folder, a removed
checkout), or the real error is replaced by a raw FileNotFoundError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.errors import FlowArtifactsError


@pytest.fixture
def deleted_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    os.rmdir(gone)


def test_review_bad_stack_file_in_deleted_cwd_is_config_error(tmp_path: Path, deleted_cwd):
    bad = tmp_path / "flow-artifacts.yaml"
    bad.write_text("stacks: [unclosed\n")
    with pytest.raises(FlowArtifactsError):
        fa.Stack.from_yaml(bad)


def test_review_download_blocked_in_deleted_cwd_is_config_error(tmp_path: Path, deleted_cwd):
    stack = fa.Stack.local(tmp_path / "fa")
    art = fa.materialize(b"x", "m", "r1", "s", "demo", stack=stack)
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(FlowArtifactsError):
        art.download(tmp_path / "file" / "sub" / "out.bin")


def test_review_open_local_stack_by_absolute_path_in_deleted_cwd(tmp_path: Path, deleted_cwd):
    """No error at all is involved: `Catalog.__init__` computes `shown_catalog` (shown_path,
    Path.cwd()) eagerly, so opening a SQLite catalog by absolute path raises FileNotFoundError."""
    stack = fa.Stack.local(tmp_path / "fa")
    assert fa.materialize(b"x", "m", "r1", "s", "demo", stack=stack).version == 1
