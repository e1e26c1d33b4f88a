"""An integer too long for Python's JSON (more than 4300 digits, the default limit of
int-to-text conversion) is bad input on both sides: a save refuses it with a clear error before
writing anything, and a manifest planted in the store with one is skipped by reindex as corrupt,
never a raw ValueError that aborts the whole reindex."""

from __future__ import annotations

import json
from pathlib import Path

import flow_artifacts as fa
from flow_artifacts.manifest import MANIFEST_SUFFIX


def test_a_planted_manifest_with_a_huge_number_is_skipped_by_reindex(stack):
    fa.materialize(b"good", "good", "r1", "s", "demo", stack=stack)
    fa.materialize(b"bad", "bad", "r1", "s", "demo", stack=stack)
    path = Path(stack.store.full_path("demo/r1/s/bad" + MANIFEST_SUFFIX))
    body = json.loads(path.read_text())
    planted = json.dumps({**body, "metadata": {"n": 1}}).replace('"n": 1', '"n": 1' + "0" * 5000)
    path.write_text(planted)

    report = fa.reindex(stack=stack)

    assert [key for key, _ in report.skipped] == ["demo/r1/s/bad" + MANIFEST_SUFFIX]
    assert "not valid JSON" in report.skipped[0][1]
    assert fa.load("demo/good", stack=stack) == b"good"
