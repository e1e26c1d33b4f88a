"""The artifact store's promises: valid names only, write-once, atomic publish, verified reads."""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path

import blake3
import numpy as np
import pandas as pd
import pytest

import flow_artifacts as fa
from flow_artifacts.manifest import MANIFEST_SUFFIX
from flow_artifacts.stores.paths import IDENTITY, RESERVED
from tests.core_plugins import (
    DiskFull,
    PartialWriteMaterializer,
    RegisterPlugin,
    UnserializableMetadataMaterializer,
    host_with,
)


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> fa.ArtifactStore:
    if request.param == "local":
        return fa.ArtifactStore(tmp_path / "store")
    return fa.ArtifactStore(f"memory://core-store-{uuid.uuid4().hex}")


@pytest.fixture
def local_store(tmp_path: Path) -> fa.ArtifactStore:
    return fa.ArtifactStore(tmp_path / "store")


def stored_files(store: fa.ArtifactStore) -> list[str]:
    """Every file under the store root, relative; empty when the root does not exist yet."""
    if not store.fs.exists(store.root):
        return []
    found = (p[len(store.root) :].lstrip("/") for p in store.fs.find(store.root))
    return sorted(rel for rel in found if rel != IDENTITY)


def data_file(store: fa.ArtifactStore, artifact: fa.Artifact) -> Path:
    return Path(store.root) / artifact.manifest.data_path


def manifest_file(store: fa.ArtifactStore, artifact: fa.Artifact) -> Path:
    return Path(store.root) / (artifact.key + MANIFEST_SUFFIX)


# --- names and templates -------------------------------------------------------------------------

BAD_NAMES = {
    "slash": "a/b",
    "backslash": "a\\b",
    "dotdot": "..",
    "dotdot-inside": "x..y",
    "control": "bell\x07",
    "empty": "",
    "nul": "a\x00b",
    "newline": "two\nlines",
    "10kb": "x" * 10_240,
    "leading-dot": ".hidden",
    "at": "model@2",
    "colon": "c:drive",
    "trailing-space": "name ",
    "not-a-string": 42,
}


@pytest.mark.parametrize("field", ["name", "run_id", "step_name", "project"])
@pytest.mark.parametrize("bad", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
def test_bad_names_are_refused_before_anything_is_written(
    store: fa.ArtifactStore, field: str, bad: object
) -> None:
    parts = {"name": "ok", "run_id": "r1", "step_name": "train", "project": "demo", field: bad}
    with pytest.raises(fa.InvalidName, match=field.replace("step_name", "step")):
        store.materialize({"v": 1}, **parts)  # type: ignore[arg-type]
    assert stored_files(store) == []


@pytest.mark.parametrize("path", ["reports/../etc/passwd", "reports/.hidden", "a/b@1", "a/\nb"])
def test_explicit_save_paths_are_validated_per_segment(store: fa.ArtifactStore, path: str) -> None:
    with pytest.raises(fa.InvalidName):
        store.save({"v": 1}, path)
    assert stored_files(store) == []


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{project}/{color}/{name}", "unknown variable"),
        ("{project}/{name}/{name}", "twice"),
        ("{project}/{run_id}/{step}", "must contain {name}"),
        ("/{project}/{name}", "relative"),
        ("{project}/../{name}", "relative"),
        ("{project}//{name}", "relative"),
        ("{project}/{name:>20}", "format spec"),
        ("{project}/{name!r}", "format spec"),
        ("{project}/{name", "malformed"),
        ("", "non-empty"),
    ],
)
def test_template_errors_are_raised_when_the_template_is_made(template: str, problem: str) -> None:
    with pytest.raises(fa.ConfigError, match=problem.replace("{", r"\{").replace("}", r"\}")):
        fa.PathTemplate(template)


def test_a_bad_template_fails_when_the_store_is_configured(tmp_path: Path) -> None:
    with pytest.raises(fa.ConfigError, match="unknown variable"):
        fa.ArtifactStore(tmp_path / "store", template="{projetc}/{name}")


def test_mlrun_template_spellings_work(store: fa.ArtifactStore) -> None:
    assert (
        fa.PathTemplate("{{project}}/{{run.uid}}/{name}").render(
            project="demo", run_id="r7", step="s", name="model"
        )
        == "demo/r7/model"
    )
    mlrun = fa.ArtifactStore(store.url, template="{{project}}/{{run.uid}}/{step}/{name}")
    artifact = mlrun.materialize({"v": 1}, "model", "r7", "train", "demo")
    assert artifact.key == "demo/r7/train/model"
    assert mlrun.load("demo/r7/train/model") == {"v": 1}


def test_rendered_names_stay_inside_the_template_slots() -> None:
    template = fa.PathTemplate("{pipeline}/{date}/{project}/{run_id}/{step}/{name}")
    key = template.render(
        project="p", run_id="r", step="s", name="n", pipeline="etl", date="2024-05-01"
    )
    assert key == "etl/2024-05-01/p/r/s/n"


# --- write once ----------------------------------------------------------------------------------


def test_an_artifact_is_written_once_and_the_first_stays_intact(store: fa.ArtifactStore) -> None:
    first = store.materialize({"v": "first"}, "metrics", "r1", "eval")
    files_before = stored_files(store)
    with pytest.raises(fa.ArtifactExists, match="metrics"):
        store.materialize({"v": "second"}, "metrics", "r1", "eval")
    with pytest.raises(fa.ArtifactExists):  # a different format at the same key, too
        store.materialize(b"other bytes", "metrics", "r1", "eval")
    assert stored_files(store) == files_before
    assert store.load(first.key) == {"v": "first"}
    assert store.get_manifest(first.key).to_dict() == first.manifest.to_dict()
    store.verify(first.key)


def test_explicit_paths_are_write_once_too(store: fa.ArtifactStore) -> None:
    store.save(b"one", "blobs/a")
    with pytest.raises(fa.ArtifactExists):
        store.save(b"two", "blobs/a")
    assert store.load("blobs/a") == b"one"


# --- failures mid-write --------------------------------------------------------------------------


def test_a_failure_mid_write_leaves_no_artifact_and_no_temp_file(tmp_path: Path) -> None:
    host = host_with(partial=RegisterPlugin(PartialWriteMaterializer))
    for url in (str(tmp_path / "store"), f"memory://core-partial-{uuid.uuid4().hex}"):
        store = fa.ArtifactStore(url, plugins=host)
        with pytest.raises(fa.MaterializerError, match="tests.partial") as caught:
            store.materialize({"v": 1}, "broken", "r1", "train", materializer="tests.partial")
        # The user must see why the save failed, not an error from the clean-up.
        assert isinstance(caught.value.__cause__, DiskFull), repr(caught.value.__cause__)
        assert "no space left" in str(caught.value)
        assert store.list_artifacts() == []
        assert not store.exists("default/r1/train/broken")
        assert not [f for f in stored_files(store) if RESERVED in f or "broken" in f]
        store.materialize({"v": 1}, "broken", "r1", "train")  # the key is still free


def test_metadata_json_cannot_hold_is_refused_before_anything_is_published(tmp_path: Path) -> None:
    host = host_with(bad=RegisterPlugin(UnserializableMetadataMaterializer))
    store = fa.ArtifactStore(tmp_path / "store", plugins=host)
    for _attempt in range(2):  # a failed attempt must not leave bytes that block the retry
        with pytest.raises(fa.MaterializerError, match="tests.bad-metadata"):
            store.materialize(b"x", "odd", "r1", "s", materializer="tests.bad-metadata")
    assert stored_files(store) == []
    assert store.list_artifacts() == []


def test_forcing_npy_on_an_object_array_fails_cleanly(store: fa.ArtifactStore) -> None:
    with pytest.raises(fa.MaterializerError, match="numpy.npy") as caught:
        store.materialize(np.array([object()]), "arr", "r1", "s", materializer="numpy.npy")
    assert isinstance(caught.value.__cause__, ValueError)
    assert stored_files(store) == []


# --- checksums and integrity ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj",
    [pd.DataFrame({"a": range(1000)}), np.arange(10_000), {"k": "v"}, b"\x00" * 5000, object()],
    ids=["pandas", "numpy", "json", "bytes", "pickle"],
)
def test_recorded_checksum_is_the_blake3_of_the_stored_file(
    local_store: fa.ArtifactStore, obj: object
) -> None:
    artifact = local_store.materialize(obj, "thing", "r1", "s")
    body = data_file(local_store, artifact).read_bytes()
    assert artifact.checksum == "blake3:" + blake3.blake3(body).hexdigest()
    assert artifact.size == len(body) == local_store.size(artifact.key)


@pytest.mark.parametrize(
    "obj",
    [
        pd.DataFrame({"a": range(1000)}),
        np.arange(10_000),
        {"k": "v" * 50},
        b"\x01" * 5000,
        object(),
    ],
    ids=["pandas", "numpy", "json", "bytes", "pickle"],
)
def test_a_corrupted_byte_makes_load_raise_integrity_error(
    local_store: fa.ArtifactStore, obj: object
) -> None:
    artifact = local_store.materialize(obj, "thing", "r1", "s")
    path = data_file(local_store, artifact)
    body = bytearray(path.read_bytes())
    body[len(body) // 2] ^= 0xFF
    path.write_bytes(bytes(body))
    with pytest.raises(fa.IntegrityError, match="default/r1/s/thing"):
        local_store.load(artifact)  # the handle this process wrote vouches even for a pickle
    with pytest.raises(fa.IntegrityError, match="default/r1/s/thing"):
        local_store.verify(artifact.key)


def test_a_deleted_data_file_is_reported_not_crashed_on(local_store: fa.ArtifactStore) -> None:
    artifact = local_store.materialize({"k": 1}, "thing", "r1", "s")
    data_file(local_store, artifact).unlink()
    with pytest.raises(fa.FlowArtifactsError, match="default/r1/s/thing"):
        local_store.load(artifact.key)


def test_a_truncated_manifest_raises_integrity_error(local_store: fa.ArtifactStore) -> None:
    artifact = local_store.materialize({"k": 1}, "thing", "r1", "s")
    path = manifest_file(local_store, artifact)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(fa.IntegrityError, match="truncated or corrupted"):
        local_store.load(artifact.key)


def test_a_manifest_from_a_future_release_raises_integrity_error(
    local_store: fa.ArtifactStore,
) -> None:
    artifact = local_store.materialize({"k": 1}, "thing", "r1", "s")
    path = manifest_file(local_store, artifact)
    body = json.loads(path.read_bytes())
    body["format_version"] = 99
    path.write_text(json.dumps(body))
    with pytest.raises(fa.IntegrityError, match="upgrade flow-artifacts"):
        local_store.get_manifest(artifact.key)


def test_a_manifest_missing_fields_raises_integrity_error(local_store: fa.ArtifactStore) -> None:
    artifact = local_store.materialize({"k": 1}, "thing", "r1", "s")
    path = manifest_file(local_store, artifact)
    body = json.loads(path.read_bytes())
    del body["checksum"]
    path.write_text(json.dumps(body))
    with pytest.raises(fa.IntegrityError, match="missing fields"):
        local_store.load(artifact.key)


def test_verified_loads_from_memory_stores_do_not_report_false_corruption() -> None:
    # memory:// hands every reader the same file object: the checksum thread and the materializer
    # must not read through it at the same time. Large enough that their reads interleave.
    store = fa.ArtifactStore(f"memory://core-race-{uuid.uuid4().hex}")
    array = np.random.default_rng(0).random(2_000_000)
    artifact = store.materialize(array, "big", "r1", "s")
    for _ in range(3):
        np.testing.assert_array_equal(store.load(artifact.key), array)


def test_a_verified_load_returns_only_the_bytes_it_checked(local_store: fa.ArtifactStore) -> None:
    # someone keeps swapping the file between the right bytes and forged ones of the same size:
    # every load returns the real object or raises, never the forgery
    artifact = local_store.materialize({"owner": "real"}, "thing", "r1", "s")
    path = data_file(local_store, artifact)
    real, forged = path.read_bytes(), path.read_bytes().replace(b"real", b"evil")
    stop = threading.Event()

    def swap() -> None:
        staged = path.with_name("swap.tmp")
        while not stop.is_set():
            for body in (forged, real):
                staged.write_bytes(body)
                os.replace(staged, path)

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        outcomes = set()
        for _ in range(300):
            try:
                outcomes.add(json.dumps(local_store.load(artifact)))
            except fa.FlowArtifactsError as exc:
                outcomes.add(type(exc).__name__)
    finally:
        stop.set()
        swapper.join()
    assert outcomes <= {json.dumps({"owner": "real"}), "IntegrityError", "ArtifactNotFound"}


# --- the store API -------------------------------------------------------------------------------


def test_save_load_exists_metadata_size_list_and_delete(store: fa.ArtifactStore) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3]})
    saved = store.save(frame, "reports/daily/summary", metadata={"owner": "data-team"})
    store.save({"n": 1}, "reports/weekly")
    store.save(b"raw", "raw/blob")

    assert saved.key == "reports/daily/summary" and saved.materializer == "pandas.parquet"
    assert store.exists("reports/daily/summary") and store.exists(saved)
    assert store.exists(saved.path)  # the data path users see resolves too
    assert not store.exists("reports/daily/missing")
    pd.testing.assert_frame_equal(store.load("reports/daily/summary"), frame)

    metadata = store.get_metadata("reports/daily/summary")
    assert metadata["user_metadata"] == {"owner": "data-team"}
    assert metadata["checksum"] == saved.checksum and metadata["size"] == saved.size > 0
    assert metadata["metadata"]["rows"] == 3
    assert store.size("reports/daily/summary") == saved.size

    assert store.list_artifacts() == ["raw/blob", "reports/daily/summary", "reports/weekly"]
    assert store.list_artifacts("reports") == ["reports/daily/summary", "reports/weekly"]
    assert store.list_artifacts("reports/daily") == ["reports/daily/summary"]
    assert store.list_artifacts("rep") == ["reports/daily/summary", "reports/weekly"]
    assert store.list_artifacts("nothing/here") == []

    store.delete("reports/daily/summary")
    assert not store.exists("reports/daily/summary")
    assert store.list_artifacts("reports") == ["reports/weekly"]
    assert not [f for f in stored_files(store) if f.startswith("reports/daily/summary")]
    with pytest.raises(fa.ArtifactNotFound, match="reports/daily/summary"):
        store.load("reports/daily/summary")
    with pytest.raises(fa.ArtifactNotFound):
        store.delete("reports/daily/summary")
    store.save({"again": True}, "reports/daily/summary")  # a deleted key can be written again
    assert store.load("reports/daily/summary") == {"again": True}


def test_unknown_references_raise_artifact_not_found(store: fa.ArtifactStore) -> None:
    for ref in ("nope", "a/../b", "", "default/r/s/x.parquet"):
        with pytest.raises(fa.ArtifactNotFound):
            store.load(ref)
        assert store.get_metadata(ref) is None  # FlowyML: a missing path has no metadata


def test_a_crashed_writers_temp_files_are_not_listed(local_store: fa.ArtifactStore) -> None:
    local_store.materialize({"v": 1}, "a", "r1", "s")
    older = Path(local_store.root) / "default" / "r1" / "s" / f".tmp-crash{MANIFEST_SUFFIX}"
    older.write_text("{}")  # what a crashed writer of an older version could leave behind
    staged = Path(local_store.root) / RESERVED / "tmp" / "w1" / f"a{MANIFEST_SUFFIX}"
    staged.parent.mkdir(parents=True)
    staged.write_text("{}")
    assert local_store.list_artifacts() == ["default/r1/s/a"]
