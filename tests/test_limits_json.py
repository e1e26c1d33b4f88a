"""`check_json` (every save checks its manifest with it) decides quickly for plain values and
walks the rest: either way it accepts and refuses exactly what the walk does, with its message."""

from __future__ import annotations

import math
from collections import OrderedDict, UserDict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flow_artifacts.errors import MetadataValidationError
from flow_artifacts.limits import JSON_DEPTH, _check_json_walk, check_json


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
