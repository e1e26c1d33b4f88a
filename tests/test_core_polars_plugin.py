"""The polars plugin, installed as its own distribution, is found through its entry point."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import polars as pl
import pytest

import flow_artifacts as fa
from flow_artifacts.plugins import DISABLE_ENV, PluginHost, make_plugin_manager
from flow_artifacts.testing import assert_failure_leaves_nothing, assert_round_trip


def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [1, 2, 3],
            "score": [0.5, None, 2.25],
            "name": ["a", None, "ç"],
            "day": [dt.date(2024, 1, 1), None, dt.date(2024, 12, 31)],
            "at": pl.Series(
                [dt.datetime(2024, 1, 1, 12), None, dt.datetime(2025, 6, 1)],
                dtype=pl.Datetime("us", "UTC"),
            ),
            "tags": [["x"], [], None],
            "grade": pl.Series(["lo", "hi", "lo"], dtype=pl.Categorical),
        }
    )


@pytest.fixture(params=["local", "memory"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "store")
    return f"memory://core-polars-{uuid.uuid4().hex}"


def test_the_plugin_is_discovered_through_its_entry_point() -> None:
    infos = {info.name: info for info in PluginHost().describe()}
    polars_plugin = infos["polars"]
    assert polars_plugin.distribution == "flow-artifacts-polars"
    assert polars_plugin.version == "0.1.0"
    assert not polars_plugin.builtin and not polars_plugin.blocked
    assert PluginHost().materializers.choose(frame()).id == "polars.parquet"


def test_polars_frames_round_trip_as_polars_frames(store_url: str) -> None:
    original = frame()
    result = assert_round_trip(
        "polars.parquet", original, store_url=store_url, plugins=PluginHost()
    )
    assert isinstance(result.loaded, pl.DataFrame)
    assert result.loaded.schema == original.schema
    metadata = result.artifact.metadata
    assert metadata["rows"] == 3 and metadata["columns"] == original.columns
    assert {"name": "day", "type": "Date"} in metadata["schema"]
    assert metadata["preview"]["data"][0][:4] == [1, 0.5, "a", "2024-01-01"]
    assert result.artifact.kind == "dataset"
    assert "polars" in result.artifact.manifest.libraries


def test_an_empty_polars_frame_round_trips(store_url: str) -> None:
    empty = pl.DataFrame(schema={"a": pl.Int32, "b": pl.String})
    assert_round_trip("polars.parquet", empty, store_url=store_url, plugins=PluginHost())


def test_a_failed_polars_write_leaves_nothing(store_url: str) -> None:
    big = pl.DataFrame({"a": range(10_000)})
    assert_failure_leaves_nothing("polars.parquet", big, store=store_url, plugins=PluginHost())


def test_blocking_the_plugin_sends_polars_frames_to_the_pickle_fallback() -> None:
    host = PluginHost(make_plugin_manager(blocked=["polars"]))
    assert "polars.parquet" not in host.materializers
    assert {i.name for i in host.describe() if i.blocked} == {"polars"}
    assert host.materializers.choose(frame()).id == "cloudpickle"
    with pytest.raises(fa.NoMaterializerFound, match="polars"):
        host.materializers.choose(frame(), allow_pickle=False)


def test_the_environment_variable_blocks_the_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_ENV, "polars")
    host = PluginHost(make_plugin_manager())
    assert "polars.parquet" not in host.materializers
    store = fa.ArtifactStore(f"memory://core-polars-{uuid.uuid4().hex}", plugins=host)
    artifact = store.materialize(frame(), "frame", "r1", "s")
    assert artifact.materializer == "cloudpickle"
    assert store.load(artifact).equals(frame())  # its own handle: a store path would not unpickle
    with pytest.raises(fa.NoMaterializerFound):
        store.materialize(frame(), "frame2", "r1", "s", allow_pickle=False)


def test_the_environment_variable_blocks_the_plugin_for_default_stores() -> None:
    script = (
        "import json, uuid, polars as pl, flow_artifacts as fa\n"
        "store = fa.ArtifactStore(f'memory://env-{uuid.uuid4().hex}')\n"
        "artifact = store.materialize(pl.DataFrame({'a': [1]}), 'a', 'r', 's')\n"
        "print(json.dumps(artifact.materializer))\n"
    )
    results = []
    for blocked in ("", "polars"):
        out = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, DISABLE_ENV: blocked},
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(out.stdout))
    assert results == ["polars.parquet", "cloudpickle"]


def test_loading_a_polars_artifact_needs_the_plugin(tmp_path: Path) -> None:
    saved = fa.ArtifactStore(tmp_path / "store", plugins=PluginHost()).materialize(
        frame(), "frame", "r1", "s"
    )
    without = fa.ArtifactStore(
        tmp_path / "store", plugins=PluginHost(make_plugin_manager(blocked=["polars"]))
    )
    with pytest.raises(fa.NoMaterializerFound, match="'polars.parquet'"):
        without.load(saved.key)
