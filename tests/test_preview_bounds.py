"""What materializers record about the data stays small, whatever the data, and says where it
was cut: manifests and catalog rows hold it for every version."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import flow_artifacts as fa
from flow_artifacts.materializers.base import MAX_METADATA_BYTES
from flow_artifacts.materializers.preview import MAX_CELL_CHARS, MAX_PREVIEW_COLUMNS, TRUNCATED
from flow_artifacts.materializers.preview import text as preview_text
from flow_artifacts.stores.paths import IDENTITY
from tests.core_plugins import OversizedMetadataMaterializer, RegisterPlugin, host_with

BIG = 2 << 20
BOUND = MAX_METADATA_BYTES + (8 << 10)  # the metadata plus the manifest's own fields


def deep(levels: int) -> dict:
    value: dict = {"leaf": "x" * 5000}
    for n in range(levels):
        value = {f"level{n}": value, "list": list(range(1000))}
    return value


def wide_and_long() -> pd.DataFrame:
    frame = pd.DataFrame({f"c{i:04}": range(5) for i in range(3000)})
    frame.insert(0, "text", ["x" * BIG] * 5)
    frame.insert(1, "nested", [deep(30)] * 5)
    frame.insert(2, "c" * 5000, ["y" * BIG] * 5)
    return frame


def manifest_bytes(stack, art) -> tuple[int, int]:
    """Sizes of the manifest file in the store and of the catalog's copy of it."""
    path = Path(stack.store.url) / f"{art.key}.artifact.json"
    row = stack.catalog.get(art.id)
    return path.stat().st_size, len(json.dumps(row.to_dict()))


def check(preview: dict) -> None:
    assert preview["truncated"] is True
    assert len(preview["columns"]) == MAX_PREVIEW_COLUMNS and preview["columns"][0] == "text"
    assert preview["columns"][2].endswith(f"{TRUNCATED} [5000 chars]")
    assert preview["data"], "the first rows are still shown"
    first = preview["data"][0]
    assert first[0] == "x" * MAX_CELL_CHARS + f"{TRUNCATED} [{BIG} chars]"
    nested = json.dumps(first[1], ensure_ascii=False)
    assert TRUNCATED in nested and "level29" in nested  # the top levels are kept, then cut
    assert first[3:6] == [0, 0, 0]


@pytest.mark.parametrize("kind", ["pandas", "arrow"])
def test_huge_cells_many_columns_and_deep_values_stay_under_the_bound(stack, kind):
    frame = wide_and_long()
    obj = frame if kind == "pandas" else pa.Table.from_pandas(frame.drop(columns="nested"))
    art = fa.materialize(obj, "wide", "r1", "s", "demo", stack=stack)
    stored, cataloged = manifest_bytes(stack, art)
    assert stored < BOUND and cataloged < BOUND
    metadata = art.metadata
    assert metadata["rows"] == 5 and metadata["column_count"] == len(
        obj.columns if kind == "pandas" else obj.column_names
    )
    assert 0 < len(metadata["columns"]) < metadata["column_count"]
    assert metadata["columns"][0] == "text" and metadata["schema"][0]["name"] == "text"
    if kind == "pandas":
        check(metadata["preview"])
    else:
        preview = metadata["preview"]
        assert preview["truncated"] and preview["data"][0][0].endswith(f"[{BIG} chars]")
    assert fa.load(art, stack=stack).shape[0] == 5  # the data itself is whole


def test_polars_frames_are_bounded_the_same_way(stack):
    import polars as pl  # in the test extra: missing, this fails rather than skips

    frame = pl.DataFrame({"text": ["x" * BIG] * 5, **{f"c{i}": range(5) for i in range(3000)}})
    art = fa.materialize(frame, "wide", "r1", "s", "demo", stack=stack)
    assert max(manifest_bytes(stack, art)) < BOUND
    preview = art.metadata["preview"]
    assert preview["truncated"] and preview["data"][0][0].endswith(f"[{BIG} chars]")
    assert art.metadata["column_count"] == 3001


def test_a_report_with_huge_keys_records_bounded_keys(stack):
    report = {"k" * BIG: 1, **{f"key{i}": deep(3) for i in range(200)}}
    art = fa.materialize(report, "report", "r1", "s", "demo", stack=stack)
    assert max(manifest_bytes(stack, art)) < BOUND
    keys = art.metadata["keys"]
    assert len(keys) == 50 and keys[0].endswith(f"{TRUNCATED} [{BIG} chars]")
    assert fa.load(art, stack=stack) == report


def test_metadata_over_the_bound_is_refused_and_leaves_nothing(tmp_path):
    host = host_with(big=RegisterPlugin(OversizedMetadataMaterializer))
    store = fa.ArtifactStore(tmp_path / "store", plugins=host)
    with pytest.raises(fa.MaterializerError, match="KiB of format metadata"):
        store.materialize(b"z" * BIG, "odd", "r1", "s", materializer="tests.oversized-metadata")
    stored = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert [p.relative_to(tmp_path / "store").as_posix() for p in stored] == [IDENTITY]
    assert store.materialize(b"z", "odd", "r1", "s", materializer="tests.oversized-metadata")


def test_a_cell_holding_nul_is_previewed_not_refused(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"s": ["a\x00b", "\x00", "plain"], "n\x00ame": [1, 2, 3]})
    store = fa.ArtifactStore(tmp_path / "store")
    art = store.materialize(frame, "odd", "r1", "s")
    assert store.load(art).equals(frame)  # the data keeps every character
    preview = art.manifest.metadata["preview"]
    assert preview["data"][0][0] == "a\ufffdb" and preview["data"][1][0] == "\ufffd"
    assert preview_text("\ud800x") == "\ufffdx"  # unpaired surrogates too (Parquet refuses them)
    assert preview["columns"] == ["s", "n\ufffdame"]
