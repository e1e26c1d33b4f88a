"""`check_json` (every save checks its manifest with it) decides quickly for plain values and
walks the rest, and `check_row_fits` decides a plain row at once: either way they accept and
refuse exactly what the slow checks do, with their message."""

from __future__ import annotations

import math
from collections import OrderedDict, UserDict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flow_artifacts.errors import FlowArtifactsError, MetadataValidationError
from flow_artifacts.limits import (
    JSON_DEPTH,
    _check_each_field,
    _check_json_walk,
    check_json,
    check_row_fits,
)
from flow_artifacts.manifest import Manifest


def outcome(check: Any, value: Any) -> str | None:
    try:
        check(value, "metadata")
    except MetadataValidationError as exc:
        return str(exc)
    return None


class Text(str):
    pass


class Number(float):
    pass


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(), st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfff", "é", Text("k")]),
    st.sampled_from([Number(1.5), b"bytes", {1, 2}, object()]),
)  # fmt: skip
keys = st.one_of(
    st.text(), st.sampled_from(["\x00", "\udc80", Text("k"), 1, None, 2.5, True, ("t",)])
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(keys, inner, max_size=4),
        st.dictionaries(st.text(), inner, max_size=4).map(OrderedDict),
    ),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(values)
def test_the_quick_decision_is_the_walks(value: Any) -> None:
    assert outcome(check_json, value) == outcome(_check_json_walk, value)


def nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


@pytest.mark.parametrize("depth", [JSON_DEPTH - 1, JSON_DEPTH, JSON_DEPTH + 1, JSON_DEPTH + 2])
@pytest.mark.parametrize("leaf", [1, "x", [], {}, "\x00", math.nan])
def test_depth_is_bounded_as_the_walk_bounds_it(depth: int, leaf: Any) -> None:
    value = nested(depth, leaf)
    assert outcome(check_json, value) == outcome(_check_json_walk, value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": "ok", "b": "x\x00"}, "holds a NUL character"),
        ({"a": ["\ud800"]}, "unpaired surrogate"),
        ({"\x00": 1}, "holds a NUL character"),
        ({1: "a"}, "has the key 1; JSON keys must be strings"),
        ({"a": math.inf}, "holds the number inf"),
        ({"a": {1, 2}}, "holds a set, which is not JSON"),
        (UserDict({"a": b"x"}), "holds a bytes, which is not JSON"),
        (nested(JSON_DEPTH + 1, 1), f"nested deeper than {JSON_DEPTH} levels"),
    ],
)
def test_a_value_no_engine_stores_alike_is_refused_saying_why(value: Any, message: str) -> None:
    with pytest.raises(MetadataValidationError, match=message):
        check_json(value, "metadata")


def test_a_surrogate_pair_split_across_two_strings_is_still_refused() -> None:
    with pytest.raises(MetadataValidationError, match="unpaired surrogate"):
        check_json(["a\ud83d", "\ude00b"], "metadata")


ROW_TEXTS = ["project", "name", "run_id", "step", "pipeline", "materializer", "mime_type", "id",
             "kind", "checksum", "key", "data_path", "description"]  # fmt: skip
row_texts = st.one_of(
    st.text(max_size=3),
    st.sampled_from(["\x00", "a\udfff", Text("k"), 5, None, ""]),
    st.integers(19, 501).map(lambda n: "é" * n),  # around every column's length
)


def row_outcome(check: Any, manifest: Manifest) -> str | None:
    try:
        check(manifest)
    except FlowArtifactsError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@settings(max_examples=500, deadline=None)
@given(
    st.dictionaries(st.sampled_from(ROW_TEXTS), row_texts, max_size=3),
    st.dictionaries(
        st.one_of(st.text(max_size=3), st.sampled_from(["", "k" * 201, 7])), row_texts, max_size=2
    ),  # fmt: skip
    values,
)
def test_a_row_that_fits_is_told_at_once_as_each_field_tells_it(
    texts: dict[str, Any], labels: dict[Any, Any], metadata: Any
) -> None:
    """`check_row_fits` decides a plain row at once; it accepts and refuses exactly what the
    check of each field does, with its message."""
    manifest = Manifest(
        id="a" * 36, key="p/r/s/n", data_path="p/r/s/n.json", project="p", name="n",
        run_id="r", step="s", materializer="builtins.json", materializer_version="1",
        kind="report", mime_type="application/json", size=3, checksum="blake3:" + "0" * 64,
        created="2026-01-01T00:00:00+00:00", labels=labels, metadata={"m": metadata},
    )  # fmt: skip
    for field, value in texts.items():
        setattr(manifest, field, value)
    assert row_outcome(check_row_fits, manifest) == row_outcome(_check_each_field, manifest)
