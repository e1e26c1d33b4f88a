"""Every built-in materializer round-trips on local disk and in memory, via the conformance kit."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flow_artifacts.testing import assert_failure_leaves_nothing, assert_round_trip


@pytest.fixture(params=["local", "memory"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "store")
    return f"memory://core-{uuid.uuid4().hex}"


@dataclasses.dataclass
class Metrics:
    accuracy: float
    labels: list[str]
    best: dict[str, int]


class Model:
    """A custom class no safe materializer knows: it can only be pickled."""

    def __init__(self, weights: list[float]) -> None:
        self.weights = weights

    def predict(self, x: float) -> float:
        return sum(w * x for w in self.weights)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and other.weights == self.weights


def mixed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "count": np.array([3, -1, 2**40], dtype="int64"),
            "small": np.array([1, 2, 3], dtype="int8"),
            "score": [0.5, float("nan"), -1e300],
            "city": pd.Series(["Paris", None, "Zürich ☃"], dtype="str"),
            "grade": pd.Categorical(["b", "a", "b"], categories=["a", "b", "c"], ordered=True),
            "seen": pd.to_datetime(
                ["2024-01-01 12:00:00", "2024-06-30 23:59:59.123456", None], format="ISO8601"
            ).tz_localize("Europe/Paris"),
            "flag": [True, False, True],
        },
        index=pd.Index(["x", "y", "z"], name="key"),
    )


def test_dataframe_of_every_common_dtype_round_trips(store_url: str) -> None:
    frame = mixed_frame()
    result = assert_round_trip("pandas.parquet", frame, store_url=store_url)
    assert result.loaded.index.name == "key"
    assert str(result.loaded["seen"].dt.tz) == "Europe/Paris"
    assert list(result.loaded["grade"].cat.categories) == ["a", "b", "c"]
    metadata = result.artifact.metadata
    assert metadata["rows"] == 3 and metadata["columns"] == list(frame.columns)
    assert metadata["preview"]["data"][0][0] == 3


def test_dataframe_with_multiindex_and_integer_index_round_trips(store_url: str) -> None:
    multi = pd.DataFrame(
        {"v": [1.0, 2.0, 3.0]},
        index=pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["group", "n"]),
    )
    assert_round_trip("pandas.parquet", multi, store_url=store_url)
    shifted = pd.DataFrame({"v": [1, 2]}, index=pd.Index([10, 20], name="id"))
    assert_round_trip("pandas.parquet", shifted, store_url=store_url)


def test_named_series_round_trips_as_series(store_url: str) -> None:
    series = pd.Series([1.5, 2.5, None], name="temperature", index=pd.Index([1, 2, 3], name="t"))
    loaded = assert_round_trip("pandas.parquet", series, store_url=store_url).loaded
    assert isinstance(loaded, pd.Series) and loaded.name == "temperature"


def test_arrow_table_round_trips(store_url: str) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2, None], pa.int32()),
            "name": ["a", "b", "c"],
            "tags": [["x"], [], ["y", "z"]],
            "when": pa.array([0, 1, 2], pa.timestamp("ms", tz="UTC")),
        }
    )
    result = assert_round_trip("pyarrow.parquet", table, store_url=store_url)
    assert result.artifact.metadata["rows"] == 3
    assert [f["name"] for f in result.artifact.metadata["schema"]] == ["id", "name", "tags", "when"]


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype="int64"),
        np.linspace(0, 1, 24).reshape(4, 6),
        np.array([[1.5, np.nan], [np.inf, -0.0]], dtype="float32"),
        np.array([True, False]),
        np.array(["ab", "ç"], dtype="U2"),
        np.zeros((0, 3)),
    ],
    ids=["int", "2d-float", "float32-special", "bool", "unicode", "empty"],
)
def test_numpy_arrays_round_trip_with_shape_and_dtype(store_url: str, array: np.ndarray) -> None:
    result = assert_round_trip("numpy.npy", array, store_url=store_url)
    assert result.artifact.metadata == {"shape": list(array.shape), "dtype": str(array.dtype)}


def test_object_arrays_are_refused_by_npy_and_pickled_instead(store_url: str) -> None:
    array = np.array([1, "a", None], dtype=object)
    result = assert_round_trip("cloudpickle", array, store_url=store_url)
    assert result.artifact.kind == "model"


@pytest.mark.parametrize(
    "value",
    [
        {"accuracy": 0.93, "labels": ["cat", "dog"], "nested": {"ok": True, "none": None}},
        [1, "two", 3.0, None, False, [], {}],
        "a report with ünïcode and \n newlines",
        42,
        2**70,
        -0.125,
        True,
        False,
        None,
    ],
    ids=["dict", "list", "str", "int", "bigint", "float", "true", "false", "none"],
)
def test_json_values_round_trip_with_their_type(store_url: str, value: object) -> None:
    result = assert_round_trip("builtins.json", value, store_url=store_url)
    assert result.artifact.mime_type == "application/json"


def test_dataclass_is_saved_as_json_and_loads_as_dict(store_url: str) -> None:
    metrics = Metrics(accuracy=0.5, labels=["a"], best={"epoch": 3})
    result = assert_round_trip("builtins.json", metrics, store_url=store_url)
    assert result.loaded == {"accuracy": 0.5, "labels": ["a"], "best": {"epoch": 3}}
    assert result.artifact.metadata["python_type"].endswith("Metrics")


@pytest.mark.parametrize("value", [b"\x00\x01 raw \xff", bytearray(b"mutable"), b""])
def test_bytes_and_bytearray_round_trip_with_their_type(store_url: str, value: bytes) -> None:
    assert_round_trip("builtins.bytes", value, store_url=store_url)


def test_a_file_path_is_copied_and_loads_as_a_local_copy(store_url: str, tmp_path: Path) -> None:
    source = tmp_path / "model.onnx"
    source.write_bytes(b"\x08\x01 onnx bytes" * 1000)
    result = assert_round_trip("filesystem.path", source, store_url=store_url)
    assert result.loaded.name == "model.onnx" and result.loaded != source
    assert result.artifact.key.endswith("artifact") and result.artifact.path.endswith(".onnx")


def test_a_directory_is_copied_honouring_artifactignore(store_url: str, tmp_path: Path) -> None:
    source = tmp_path / "checkpoint"
    files = {
        "weights.bin": b"w",
        "notes/readme.md": b"r",
        "debug.log": b"ignored: *.log",
        "keep.log": b"re-included by !keep.log",
        "src/pkg/__pycache__/mod.pyc": b"ignored: **/__pycache__",
        "data/raw/2024/part.tmp": b"ignored: data/**/*.tmp",
        "data/top.tmp": b"ignored: ** matches zero segments",
        "data/raw/2024/part.csv": b"a,b",
        ".artifactignore": (b"# build junk\n*.log\n!keep.log\n**/__pycache__\ndata/**/*.tmp\n"),
    }
    for rel, body in files.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_bytes(body)
    result = assert_round_trip("filesystem.path", source, store_url=store_url)
    copied = {
        p.relative_to(result.loaded).as_posix() for p in result.loaded.rglob("*") if p.is_file()
    }
    assert copied == {
        ".artifactignore",
        "weights.bin",
        "notes/readme.md",
        "keep.log",
        "data/raw/2024/part.csv",
    }
    assert result.artifact.metadata["ignored"] == 4
    assert set(result.artifact.manifest.files) == copied


def test_custom_objects_and_lambdas_fall_back_to_cloudpickle(store_url: str) -> None:
    loaded = assert_round_trip("cloudpickle", Model([1.0, 2.0]), store_url=store_url).loaded
    assert loaded.predict(2.0) == 6.0
    offset = 10
    result = assert_round_trip(
        "cloudpickle",
        lambda x: x + offset,
        store_url=store_url,
        equals=lambda saved, loaded: loaded(1) == saved(1) == 11,
    )
    assert result.artifact.manifest.materializer == "cloudpickle"


@pytest.mark.parametrize(
    ("materializer", "value"),
    [
        ("pandas.parquet", mixed_frame()),
        ("pyarrow.parquet", pa.table({"a": list(range(100))})),
        ("numpy.npy", np.arange(1000)),
        ("builtins.json", {"k": "v" * 100}),
        ("builtins.bytes", b"x" * 100),
        ("cloudpickle", Model([1.0])),
    ],
)
def test_a_failed_write_leaves_nothing_behind(
    store_url: str, materializer: str, value: object
) -> None:
    assert_failure_leaves_nothing(materializer, value, store=store_url, fail_after_bytes=8)


def test_a_failed_directory_copy_leaves_nothing_behind(store_url: str, tmp_path: Path) -> None:
    source = tmp_path / "tree"
    for name in ("a.txt", "b/c.txt"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(b"0123456789" * 10)
    assert_failure_leaves_nothing("filesystem.path", source, store=store_url, fail_after_bytes=150)


# --- generated frames ----------------------------------------------------------------------------

_TIMESTAMPS = st.one_of(st.none(), st.integers(-(2**62), 2**62))


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    """DataFrames mixing the dtypes pipelines pass around, with nulls where the dtype allows."""
    rows = draw(st.integers(0, 12))
    kinds = ["int", "float", "bool", "str", "category", "ts_utc", "ts_tokyo"]
    if rows == 0:  # Parquet keeps no dictionary for an empty column: its categories are lost
        kinds.remove("category")
    column_kinds = draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=6))
    data: dict[str, pd.Series] = {}
    for i, kind in enumerate(column_kinds):
        if kind == "int":
            values = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=rows, max_size=rows))
            series = pd.Series(values, dtype="int64")
        elif kind == "float":
            values = draw(st.lists(st.floats(width=64), min_size=rows, max_size=rows))
            series = pd.Series(values, dtype="float64")
        elif kind == "bool":
            series = pd.Series(draw(st.lists(st.booleans(), min_size=rows, max_size=rows)))
        elif kind == "str":
            values = draw(st.lists(st.none() | st.text(max_size=8), min_size=rows, max_size=rows))
            series = pd.Series(values, dtype="str")
        elif kind == "category":
            values = draw(
                st.lists(st.sampled_from(["lo", "mid", "hi"]), min_size=rows, max_size=rows)
            )
            series = pd.Series(pd.Categorical(values, categories=["lo", "mid", "hi"]))
        else:
            values = draw(st.lists(_TIMESTAMPS, min_size=rows, max_size=rows))
            tz = "UTC" if kind == "ts_utc" else "Asia/Tokyo"
            stamps = pd.to_datetime(values, unit="ns", utc=True).as_unit("ns")
            series = pd.Series(stamps.tz_convert(tz))
        data[f"c{i}_{kind}"] = series
    index = draw(st.sampled_from(["range", "named-int", "str"]))
    frame = pd.DataFrame(data)
    if index == "named-int":
        frame.index = pd.Index(range(100, 100 + rows), name="row_id")
    elif index == "str":
        frame.index = pd.Index([f"r{i}" for i in range(rows)], dtype="str")
    return frame


@settings(max_examples=40, deadline=None)
@given(frame=frames())
def test_generated_dataframes_round_trip_in_memory(frame: pd.DataFrame) -> None:
    assert_round_trip("pandas.parquet", frame)


@settings(max_examples=15, deadline=None)
@given(frame=frames())
def test_generated_dataframes_round_trip_on_local_disk(
    frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert_round_trip(
        "pandas.parquet", frame, store_url=str(tmp_path_factory.getbasetemp() / "hyp")
    )
