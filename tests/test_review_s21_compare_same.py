"""Two JSON reports compare as `same` only when their bytes are equal (under checksums of two
algorithms, say), never because a structural diff found no change: 1 and 1.0 differ."""

from __future__ import annotations

import flow_artifacts as fa
from flow_artifacts.compare import diff_artifacts


def test_reports_that_differ_only_in_number_type_are_not_the_same(tmp_path) -> None:
    stack = fa.Stack.local(tmp_path / "fa")
    a = fa.materialize({"n": 1}, "scores", "r1", "eval", "demo", stack=stack)
    b = fa.materialize({"n": 1.0}, "scores", "r2", "eval", "demo", stack=stack)
    assert diff_artifacts(stack, a, b)["content"]["same"] is False
    stack.close()
