"""A process forked just after a run ended (while the heartbeat thread lingers for its last idle
beat) renews the heartbeats of the runs it opens itself: a forked child inherits no threads, so
it must start its own, or its runs read as crashed while they run."""

from __future__ import annotations

import os
import sys
import threading

import pytest

import flow_artifacts as fa

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def beating() -> bool:
    return any(t.name == "flow-artifacts-heartbeat" for t in threading.enumerate())


def test_a_child_forked_after_a_run_renews_its_own_runs(tmp_path) -> None:
    catalog = fa.Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.start_run("demo", "r1")
    catalog.finish_run("demo", "r1", "completed")
    assert beating()  # the thread outlives the run by one idle beat
    pid = os.fork()
    if pid == 0:  # the child: only this thread was inherited
        code = 1
        try:
            catalog.engine.dispose(close=False)  # the parent's connections stay the parent's
            catalog.start_run("demo", "r2")
            code = 0 if beating() else 2
        finally:
            sys.stdout.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    catalog.close()
    assert os.waitstatus_to_exitcode(status) == 0, "the child's run has no heartbeat thread"
