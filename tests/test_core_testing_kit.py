"""The conformance kit fails materializers that break the contract: passing it means something."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from flow_artifacts.errors import PickleFallbackWarning
from flow_artifacts.materializers.base import Materializer
from flow_artifacts.plugins import default_plugin_host
from flow_artifacts.testing import (
    assert_failure_leaves_nothing,
    assert_round_trip,
    default_equals,
)


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (other.x, other.y) == (self.x, self.y)


class PointMaterializer(Materializer):
    """A correct third-party materializer, never registered in any plugin manager."""

    id = "tests.point"
    handles = (Point,)
    extension = ".txt"

    def save(self, obj: Point, fs: Any, path: str) -> dict[str, Any]:
        with fs.open(path, "wb") as f:
            f.write(f"{obj.x},{obj.y}".encode())
        return {}

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Point:
        x, y = fs.cat_file(path).decode().split(",")
        return Point(int(x), int(y))


class LossyPointMaterializer(PointMaterializer):
    id = "tests.lossy-point"

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Point:
        return Point(0, 0)


class SwallowingPointMaterializer(PointMaterializer):
    """Hides its write errors: the store would publish a truncated artifact."""

    id = "tests.swallowing-point"

    def save(self, obj: Point, fs: Any, path: str) -> dict[str, Any]:
        f = fs.open(path, "wb")
        try:
            f.write(b"1,")
            f.write(b"2")
        except Exception:
            pass
        f.close()
        return {}


def test_an_unregistered_materializer_class_can_be_checked_directly() -> None:
    result = assert_round_trip(PointMaterializer, Point(3, 4))
    assert result.loaded == Point(3, 4) and result.artifact.materializer == "tests.point"
    assert "tests.point" not in default_plugin_host().materializers  # no global side effect
    assert_failure_leaves_nothing(PointMaterializer, Point(3, 4))


def test_a_lossy_load_fails_the_round_trip() -> None:
    with pytest.raises(AssertionError, match="!="):
        assert_round_trip(LossyPointMaterializer, Point(3, 4))


def test_a_materializer_that_hides_write_errors_fails_the_failure_check() -> None:
    with pytest.raises(AssertionError, match="although its write failed"):
        assert_failure_leaves_nothing(SwallowingPointMaterializer, Point(1, 2))


def test_an_object_dispatched_elsewhere_fails_unless_dispatch_is_not_expected() -> None:
    with pytest.raises(AssertionError, match="dispatches to 'builtins.json'"):
        assert_round_trip("cloudpickle", {"a": 1})
    with pytest.warns(PickleFallbackWarning):  # forcing pickle on a dict is still worth a warning
        assert_round_trip("cloudpickle", {"a": 1}, expect_dispatch=False)


def test_default_equality_is_strict_about_types_and_dtypes() -> None:
    with pytest.raises(AssertionError):
        default_equals(True, 1)
    with pytest.raises(AssertionError):
        default_equals(b"x", bytearray(b"x"))
    with pytest.raises(AssertionError):
        default_equals(pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [1.0]}))
    default_equals(pd.DataFrame({"a": [float("nan")]}), pd.DataFrame({"a": [float("nan")]}))


def test_a_custom_equality_can_be_an_assertion_helper() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    assert_round_trip("pandas.parquet", frame, equals=pd.testing.assert_frame_equal)
    with pytest.raises(AssertionError, match="does not equal"):
        assert_round_trip("pandas.parquet", frame, equals=lambda saved, loaded: False)


def test_an_unknown_materializer_id_is_reported() -> None:
    from flow_artifacts.errors import NoMaterializerFound

    with pytest.raises(NoMaterializerFound, match="tests.missing"):
        assert_round_trip("tests.missing", 1)
