"""An integer too long for Python's JSON (more than 4300 digits, the default limit of
int-to-text conversion) is bad input on both sides: a save refuses it with a clear error before
writing anything, and a manifest planted in the store with one is skipped by reindex as corrupt,
never a raw ValueError that aborts the whole reindex."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.errors import MetadataValidationError
from flow_artifacts.limits import check_json
from flow_artifacts.manifest import MANIFEST_SUFFIX
from tests.test_store_support import artifact_files

HUGE = 10**4300  # 4301 digits


@pytest.mark.parametrize(
    "value", [HUGE, -HUGE, [1, {"n": HUGE}], (HUGE,)], ids=["int", "negative", "nested", "tuple"]
)
def test_check_json_refuses_an_integer_json_cannot_write(value):
    with pytest.raises(MetadataValidationError, match="more than 4300 digits"):
        check_json(value, "metadata")


def test_check_json_accepts_the_longest_integer_json_writes():
    check_json({"n": 10**4300 - 1, "m": -(10**4300 - 1), "b": True}, "metadata")


def test_a_save_with_a_huge_integer_is_refused_and_leaves_no_trace(tmp_path):
    stack = fa.Stack.local(tmp_path / "fa", project="demo")
    try:
        with pytest.raises(MetadataValidationError, match="digits"):
            fa.materialize({"a": 1}, "x", "r1", "s", stack=stack, metadata={"n": HUGE})
        assert list(fa.list_artifacts("demo", stack=stack)) == []
        assert artifact_files(stack.store) == []  # neither manifest, nor bytes
    finally:
        stack.close()


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
