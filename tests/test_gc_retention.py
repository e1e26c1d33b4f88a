"""`gc(keep_last=N)`: the newest N versions of each name stay, older ones go like `rm`, except
tagged ones and the inputs of kept ones."""

from __future__ import annotations

import flow_artifacts as fa
from flow_artifacts.maintenance import gc


def test_keep_last_removes_older_versions_but_not_tagged_or_needed_ones(stack):
    versions = [
        fa.materialize({"v": i}, "model", f"r{i}", "train", "p", stack=stack) for i in range(4)
    ]
    fa.tag(versions[0], "golden", stack=stack)
    needed = fa.materialize({"raw": 1}, "raw", "r0", "ingest", "p", stack=stack)
    fa.materialize({"raw": 2}, "raw", "r1", "ingest", "p", stack=stack)
    fa.materialize({"report": 1}, "report", "r1", "eval", "p", inputs=[needed], stack=stack)

    report = gc(keep_last=1, dry_run=True, stack=stack)
    assert sorted((m.name, m.version) for m in report.surplus) == [("model", 2), ("model", 3)]

    gc(keep_last=1, stack=stack)
    left = sorted((a.name, a.version) for a in fa.list_artifacts("p", stack=stack))
    assert left == [("model", 1), ("model", 4), ("raw", 1), ("raw", 2), ("report", 1)]
    assert fa.load(versions[3].uri, stack=stack) == {"v": 3}
