"""Hostile-review: the zip endpoint's temporary copy of a folder must not outlive the request."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.ui import archive


def _copies() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("flow-artifacts-zip-*"))


@pytest.fixture
def folder(stack: fa.Stack, tmp_path: Path) -> fa.Artifact:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.txt").write_text("a" * 1000)
    return fa.upload_file(tree, "tree", "files", stack=stack)


def test_review_stream_never_read_leaves_no_copy(folder):
    """A client that goes away before the body starts: the response's iterator is dropped
    unstarted, so `_zipped`'s `finally` never runs and the full copy stays in the temp folder."""
    before = _copies()
    stream = archive.zip_stream(folder)
    del stream
    leaked = _copies() - before
    for copy in leaked:  # this test's own leak only
        shutil.rmtree(copy, ignore_errors=True)
    assert leaked == set()
