"""An artifact's bytes on local disk swapped for a named pipe (anyone with folder access can):
a load, and a verify, refuse it at once, naming the artifact, rather than wait forever for a
writer. Each runs in a child process, so a hang fails the test instead of hanging the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import flow_artifacts as fa

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")

ATTEMPT = """
import sys
import flow_artifacts as fa
stack = fa.Stack.local(sys.argv[1])
art = fa.get_artifact(sys.argv[2], stack=stack)
try:
    art.load() if sys.argv[3] == "load" else stack.store.verify(art.manifest)
except fa.FlowArtifactsError as error:
    print(error)
"""


@pytest.mark.parametrize("how", ["load", "verify"])
@pytest.mark.parametrize("obj", [b"x" * 100, {"rows": [1, 2]}], ids=["bytes", "json"])
def test_bytes_swapped_for_a_named_pipe_are_refused_at_once(tmp_path: Path, obj, how) -> None:
    root = tmp_path / "fa"
    stack = fa.Stack.local(root)
    art = fa.materialize(obj, "blob", "r1", "s", "p", stack=stack)
    stack.close()
    data = Path(stack.store.full_path(art.manifest.data_path))
    data.unlink()
    os.mkfifo(data)
    try:
        done = subprocess.run(
            [sys.executable, "-c", ATTEMPT, str(root), art.uri, how],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{how} waited for a writer of the named pipe")
    assert done.returncode == 0, done.stderr
    assert "not a regular file" in done.stdout and "p/r1/s/blob" in done.stdout
    assert str(tmp_path) not in done.stdout
