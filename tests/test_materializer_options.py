"""Options a write hands its materializer: Parquet compression, checked before the first byte."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import flow_artifacts as fa


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path) -> fa.Stack:
    return fa.Stack.local(tmp_path / ".fa")


def codec(stack: fa.Stack, art: fa.Artifact) -> str:
    path = stack.store.full_path(art.manifest.data_path)
    return pq.ParquetFile(path).metadata.row_group(0).column(0).compression


@pytest.mark.parametrize("compression", ["snappy", "lz4", "zstd", "none"])
def test_parquet_compression_is_a_per_call_option(stack: fa.Stack, compression: str) -> None:
    frame = pd.DataFrame({"a": range(1000), "b": ["x"] * 1000})
    options = {"compression": compression}
    art = fa.materialize(frame, "t", "r", "s", "p", materializer_options=options, stack=stack)
    assert art.manifest.metadata["compression"] == compression
    assert codec(stack, art) == {"none": "UNCOMPRESSED"}.get(compression, compression.upper())
    pd.testing.assert_frame_equal(fa.load(art, stack=stack), frame)
    table = fa.materialize(
        pa.table({"a": [1, 2]}), "a", "r", "s", "p", materializer_options=options, stack=stack
    )
    assert fa.load(table, stack=stack).equals(pa.table({"a": [1, 2]}))


def test_the_default_compression_is_recorded(stack: fa.Stack) -> None:
    from flow_artifacts.materializers._arrow_io import DEFAULT_COMPRESSION

    art = fa.materialize(pd.DataFrame({"a": [1]}), "t", "r", "s", "p", stack=stack)
    assert art.manifest.metadata["compression"] == DEFAULT_COMPRESSION


@pytest.mark.parametrize(
    ("obj", "options", "message"),
    [
        (pd.DataFrame({"a": [1]}), {"compresion": "zstd"}, "takes no option 'compresion'"),
        (pd.DataFrame({"a": [1]}), {"compression": "brotli9"}, "cannot be 'brotli9'"),
        ({"report": 1}, {"compression": "zstd"}, "'builtins.json' takes no option"),
    ],
)
def test_a_wrong_option_fails_before_anything_is_written(
    stack: fa.Stack, obj: object, options: dict, message: str
) -> None:
    with pytest.raises(fa.ConfigError, match=message):
        fa.materialize(obj, "t", "r", "s", "p", materializer_options=options, stack=stack)
    assert list(fa.list_artifacts(stack=stack)) == []
    root = Path(stack.store.root)
    files = [p.relative_to(root) for p in root.rglob("*") if p.is_file()] if root.exists() else []
    assert [f for f in files if f.parts[0] != ".flow-artifacts"] == []
