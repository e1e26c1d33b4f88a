"""Type views of the page's API: column statistics recorded at write time, more preview rows,
CSV as a table, Markdown as text for the page to render, folders as a verified zip."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.materializers.base import MAX_METADATA_BYTES
from flow_artifacts.materializers.preview import PREVIEW_BYTES, STATS_BYTES, STATS_CELL_CHARS
from flow_artifacts.ui.app import create_app
from flow_artifacts.ui.preview import MAX_CSV_ROWS

BASE = "http://127.0.0.1"


@pytest.fixture
def client(stack: fa.Stack):
    with TestClient(create_app(stack), base_url=BASE, raise_server_exceptions=False) as client:
        yield client


def preview(client: TestClient, art: Any) -> dict[str, Any]:
    response = client.get(f"/api/preview/{art.id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_tables_record_column_statistics_when_written(stack, client):
    frame = pd.DataFrame(
        {
            "when": pd.date_range("2024-03-30 12:00", periods=60, freq="h", tz="Europe/Paris"),
            "n": [None if i % 10 == 0 else i for i in range(60)],
            "word": ["b", "a", None] * 20,
            "items": [[i] for i in range(60)],
        }
    )
    for obj in (frame, pa.Table.from_pandas(frame)):
        art = fa.materialize(obj, "events", "r1", "s", "demo", stack=stack)
        stats = {s["name"]: s for s in art.metadata["stats"]}
        assert art.metadata["stats_rows"] == 60
        assert stats["n"] == {"name": "n", "nulls": 6, "min": 1.0, "max": 59.0, "distinct": 54}
        assert stats["word"] == {"name": "word", "nulls": 20, "min": "a", "max": "b", "distinct": 2}
        # in the zone they were recorded in, across the DST change of 2024-03-31
        assert stats["when"]["min"] == "2024-03-30T12:00:00+01:00"
        assert stats["when"]["max"] == "2024-04-02T00:00:00+02:00"
        assert stats["items"] == {"name": "items", "nulls": 0}  # lists: no order, no distinct
        shown = preview(client, art)
        assert shown["stats"] == art.metadata["stats"] and shown["stats_rows"] == 60
        assert len(shown["rows"]) == 50 and shown["total_rows"] == 60  # 50 rows kept to page
        assert shown["rows"][0][0] == "2024-03-30T12:00:00+01:00"


def test_statistics_stay_bounded_for_huge_values_and_many_columns(stack):
    frame = pd.DataFrame({f"c{i:03}": ["x" * 10_000 + str(i)] * 3 for i in range(300)})
    art = fa.materialize(frame, "wide", "r1", "s", "demo", stack=stack)
    stats = art.metadata["stats"]
    assert 0 < len(stats) <= 50
    assert len(json.dumps(stats, ensure_ascii=False)) <= STATS_BYTES
    assert all(len(s["min"]) <= STATS_CELL_CHARS + 20 for s in stats)
    assert len(json.dumps(art.metadata)) < MAX_METADATA_BYTES
    assert len(json.dumps(art.metadata["preview"])) <= PREVIEW_BYTES + 1024


def test_csv_is_a_table_and_a_cut_line_is_left_out(stack, client, tmp_path):
    small = tmp_path / "people.csv"
    small.write_text('name,age,note\nada,36,"says ""hi"", twice"\nbob,41,\n')
    art = fa.upload_file(small, "people", "files", stack=stack)
    shown = preview(client, art)
    assert shown["type"] == "table" and shown["source"] == "csv"
    assert shown["columns"] == ["name", "age", "note"]
    assert shown["rows"] == [["ada", "36", 'says "hi", twice'], ["bob", "41", ""]]
    assert shown["total_rows"] == 2 and shown["truncated"] is False

    big = tmp_path / "big.csv"
    big.write_text("i,text\n" + "".join(f"{i},{'y' * 1000}\n" for i in range(400)))
    shown = preview(client, fa.upload_file(big, "big", "files", stack=stack))
    assert shown["truncated"] is True and shown["total_rows"] is None
    assert all(len(row) == 2 and row[1].startswith("y" * 200) for row in shown["rows"])
    assert len(shown["rows"]) <= MAX_CSV_ROWS


def test_markdown_is_sent_as_text_for_the_page_to_render(stack, client, tmp_path):
    notes = tmp_path / "README.md"
    notes.write_text("# Title\n\n<script>alert(1)</script> [x](javascript:alert(1))\n")
    shown = preview(client, fa.upload_file(notes, "readme", "files", stack=stack))
    assert shown["type"] == "markdown" and shown["text"].startswith("# Title")


def test_a_folder_downloads_as_a_zip_of_its_files(stack, client, tmp_path):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "sub" / "b.bin").write_bytes(bytes(range(256)) * 5000)
    art = fa.upload_file(tree, "tree", "files", stack=stack)
    response = client.get(f"/api/archive/{art.id}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "tree-v1.zip" in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == ["a.txt", "sub/b.bin"]
        assert archive.read("sub/b.bin") == (tree / "sub" / "b.bin").read_bytes()
    one_file = fa.upload_file(tree / "a.txt", "a", "files", stack=stack)
    assert client.get(f"/api/archive/{one_file.id}").status_code == 409


def test_a_tampered_folder_is_an_error_before_any_zip_byte(stack, client, tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.txt").write_text("a")
    art = fa.upload_file(tree, "tree", "files", stack=stack)
    stored = Path(art.path) / "a.txt"
    stored.write_text("b")  # same size, other bytes
    response = client.get(f"/api/archive/{art.id}")
    assert response.status_code == 500 and "corrupted" in response.json()["error"]
    (Path(art.path) / "planted.txt").write_text("x")
    response = client.get(f"/api/archive/{art.id}")
    assert response.status_code == 500 and "does not match its record" in response.json()["error"]


def test_compare_puts_two_tables_column_statistics_side_by_side(stack, client):
    v1 = pd.DataFrame({"a": [1, 2, None], "b": ["x", "y", "z"]})
    v2 = pd.DataFrame({"a": [1.5, 9.0, 3.0, 4.0], "c": [0, 0, 0, 0]})
    fa.materialize(v1, "table", "r1", "s", "demo", stack=stack)
    fa.materialize(v2, "table", "r2", "s", "demo", stack=stack)
    found = client.get("/api/compare", params={"a": "demo/table@1", "b": "demo/table@2"}).json()
    rows = {r["name"]: r for r in found["column_stats"]}
    assert list(rows) == ["a", "b", "c"]
    assert rows["a"]["a"] == {"nulls": 1, "distinct": 2, "min": 1.0, "max": 2.0}
    assert rows["a"]["delta"] == {"nulls": -1, "distinct": 2, "min": 0.5, "max": 7.0}
    assert rows["b"]["b"] is None and rows["c"]["a"] is None and not rows["c"]["same"]
    reports = client.get("/api/compare", params={"a": "demo/table@1", "b": "demo/table@1"})
    assert all(r["same"] for r in reports.json()["column_stats"])


def test_small_arrays_are_tables_with_statistics_and_planted_pickles_are_not_read(stack, client):
    import numpy as np

    grid = fa.materialize(np.arange(120).reshape(60, 2), "grid", "r1", "s", "demo", stack=stack)
    shown = preview(client, grid)
    assert shown["type"] == "table" and shown["columns"] == ["0", "1"]
    assert shown["rows"][:2] == [[0, 1], [2, 3]] and len(shown["rows"]) == 50
    assert shown["total_rows"] == 60 and shown["truncated"] is True
    assert shown["stats"][1] == {"name": "1", "nulls": 0, "min": 1, "max": 119, "distinct": 60}
    assert shown["message"] == "A NumPy array of shape 60 x 2 and dtype int64."
    gaps = preview(
        client, fa.materialize(np.array([1.5, np.nan]), "g", "r1", "s", "demo", stack=stack)
    )
    assert gaps["rows"] == [[1.5], [None]] and gaps["stats"][0]["nulls"] == 1
    cube = fa.materialize(np.zeros((2, 2, 2)), "cube", "r1", "s", "demo", stack=stack)
    assert preview(client, cube)["type"] == "none"  # more than two dimensions: a sentence

    planted = fa.materialize(np.arange(3), "planted", "r1", "s", "demo", stack=stack)
    buffer = io.BytesIO()
    np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
    Path(planted.path).write_bytes(buffer.getvalue())  # another size: fails the checksum too
    assert preview(client, planted)["type"] == "none"
