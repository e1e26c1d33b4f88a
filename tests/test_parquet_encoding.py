"""Which Parquet columns are dictionary-encoded: nearly distinct ones are written plain (smaller
and faster), repeating ones keep their dictionary, and every table loads back as it was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import flow_artifacts as fa
from flow_artifacts.materializers._arrow_io import DICTIONARY_SAMPLE, dictionary_columns

ROWS = 4 * DICTIONARY_SAMPLE


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path) -> fa.Stack:
    return fa.Stack.local(tmp_path / ".fa")


def dictionary_encoded(stack: fa.Stack, art: fa.Artifact) -> dict[str, bool]:
    """Column name -> whether its first column chunk has a dictionary page."""
    metadata = pq.ParquetFile(stack.store.full_path(art.manifest.data_path)).metadata
    group = metadata.row_group(0)
    return {
        group.column(i).path_in_schema: group.column(i).has_dictionary_page
        for i in range(group.num_columns)
    }


def test_distinct_columns_are_plain_and_repeating_ones_keep_their_dictionary(
    stack: fa.Stack,
) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "id": np.arange(ROWS),
            "value": np.arange(ROWS) * 0.5,
            "user": [f"user-{i}" for i in range(ROWS)],
            "stamp": pd.date_range("2024-01-01", periods=ROWS, freq="s"),
            "few": rng.integers(0, 50, ROWS),
            # every value distinct in the table's first rows, but repeating over the whole of it:
            # a sample of its head alone would call it distinct
            "panel": np.tile(np.arange(ROWS // 8), 8),
            "label": pd.Categorical(rng.choice(["a", "b", "c"], ROWS)),
            "empty": pd.array([None] * ROWS, dtype="Int64"),
        }
    )
    art = fa.materialize(frame, "t", "r", "s", "p", stack=stack)
    assert dictionary_encoded(stack, art) == {
        "id": False,
        "value": False,
        "user": False,
        "stamp": False,
        "few": True,
        "panel": True,
        "label": True,
        "empty": True,
    }
    pd.testing.assert_frame_equal(fa.load(art, stack=stack), frame)


def test_nearly_distinct_with_nulls_is_plain_and_loads_its_nulls(stack: fa.Stack) -> None:
    values = pd.array([None if i % 10 == 0 else i for i in range(ROWS)], dtype="Int64")
    frame = pd.DataFrame({"maybe": values, "name": [None, *(f"n{i}" for i in range(ROWS - 1))]})
    art = fa.materialize(frame, "t", "r", "s", "p", stack=stack)
    assert dictionary_encoded(stack, art) == {"maybe": False, "name": False}
    pd.testing.assert_frame_equal(fa.load(art, stack=stack), frame)


def test_a_table_with_nested_columns_keeps_the_default_and_loads_back(stack: fa.Stack) -> None:
    table = pa.table(
        {
            "id": pa.array(range(ROWS)),
            "tags": pa.array([[i, i + 1] for i in range(ROWS)]),
            "point": pa.array([{"x": i, "y": 0} for i in range(ROWS)]),
        }
    )
    assert dictionary_columns(table) is True
    art = fa.materialize(table, "t", "r", "s", "p", stack=stack)
    assert fa.load(art, stack=stack).equals(table)


@pytest.mark.parametrize(
    "table",
    [
        pa.table({"a": pa.array([], pa.int64())}),
        pa.table({"a": [1]}),
        pa.table({"a": [1, 1, 2], "a.b": ["x", "y", "z"]}),
        pa.table({"flag": [True, False, True], "blob": [b"x", b"y", b"z"]}),
    ],
)
def test_small_and_odd_tables_load_back(stack: fa.Stack, table: pa.Table) -> None:
    art = fa.materialize(table, "t", "r", "s", "p", stack=stack)
    assert fa.load(art, stack=stack).equals(table)


def test_every_codec_writes_plain_distinct_columns(stack: fa.Stack) -> None:
    frame = pd.DataFrame({"id": np.arange(ROWS)})
    for compression in ("snappy", "zstd", "none"):
        options = {"compression": compression}
        art = fa.materialize(frame, "t", "r", "s", "p", materializer_options=options, stack=stack)
        assert dictionary_encoded(stack, art) == {"id": False}
        pd.testing.assert_frame_equal(fa.load(art, stack=stack), frame)


def test_a_table_with_columns_sharing_a_name_is_refused_and_nothing_is_kept(
    stack: fa.Stack,
) -> None:
    # Parquet would keep both, but no reader gives them back: saved, it could never be loaded
    table = pa.table([pa.array(range(ROWS)), pa.array([1] * ROWS)], names=["same", "same"])
    with pytest.raises(fa.MaterializerError, match=r"duplicate column names \['same'\]"):
        fa.materialize(table, "t", "r", "s", "p", stack=stack)
    assert stack.catalog.versions("p", "t").items == []
    assert list(Path(stack.store.root).rglob("*.parquet")) == []


def test_a_table_streamed_to_the_store_is_the_one_written_whole(
    stack: fa.Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flow_artifacts.materializers import _arrow_io

    frame = pd.DataFrame({"id": np.arange(ROWS), "few": np.arange(ROWS) % 7})
    whole = fa.materialize(frame, "whole", "r", "s", "p", stack=stack)
    monkeypatch.setattr(_arrow_io, "WRITTEN_WHOLE", 0)  # every table streams, page by page
    streamed = fa.materialize(frame, "streamed", "r", "s", "p", stack=stack)
    assert streamed.checksum == whole.checksum and streamed.size == whole.size
    for art in (whole, streamed):
        art.verify()  # the recorded checksum is that of the bytes stored
        pd.testing.assert_frame_equal(fa.load(art, stack=stack), frame)
