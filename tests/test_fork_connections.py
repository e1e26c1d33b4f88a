"""A process forked from one that uses a catalog (Kedro's ParallelRunner, multiprocessing on
Linux) records on connections of its own: it never uses the parent's pooled SQLite handles or
PostgreSQL sessions, and never closes them under the parent."""

from __future__ import annotations

import os

import pytest

import flow_artifacts as fa

REPORT = {"accuracy": 0.9}


def _pooled_connection(stack: fa.Stack) -> int:
    with stack.catalog.engine.connect() as conn:
        return id(conn.connection.driver_connection)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_records_on_its_own_connections_and_leaves_the_parents(stack):
    fa.materialize(REPORT, "before", "r1", "eval", stack=stack)
    parents = _pooled_connection(stack)  # back in the pool: a child would find it there
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        try:
            own = _pooled_connection(stack) != parents
            fa.materialize(REPORT, "in-child", "r2", "eval", stack=stack)
            stack.catalog.close()  # what a child's exit does: must not end the parent's
            os._exit(0 if own else 3)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _pooled_connection(stack) == parents  # the parent's connection, still alive
    assert fa.load("store://default/in-child", stack=stack) == REPORT
    assert fa.load("store://default/before", stack=stack) == REPORT
