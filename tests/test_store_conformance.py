"""The store contract, run the same way on local disk, memory, S3, GCS and Azure Blob.

Every test goes through the public API on a stack whose store is a fresh directory, memory prefix,
bucket or container, and whose catalog is a fresh SQLite file (a few run on PostgreSQL too).
"""

from __future__ import annotations

import collections
import json
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import flow_artifacts as fa
from flow_artifacts.maintenance import gc, verify
from flow_artifacts.manifest import MANIFEST_SUFFIX
from flow_artifacts.stores.paths import JOURNAL_DIR
from tests.core_plugins import DiskFull, PartialWriteMaterializer, RegisterPlugin, host_with
from tests.test_store_support import (  # noqa: F401  (fixtures)
    Target,
    artifact_files,
    make_stack_fixture,
    object_target_fixture,
    sign_options,
    stored_files,
    target_fixture,
)


def sample_tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "sub" / "b.bin").write_bytes(bytes(range(256)) * 40)
    return root


def test_every_materializer_round_trips(target: Target, make_stack, tmp_path: Path) -> None:
    stack = make_stack(target)
    frame = pd.DataFrame({"x": [1, 2, 3], "city": ["Oslo", None, "Zürich"]})
    objects = {
        "blob": b"\x00bytes\xff" * 1000,
        "report": {"accuracy": 0.93, "labels": ["a", "b"]},
        "matrix": np.arange(12, dtype="float32").reshape(3, 4),
        "frame": frame,
        "series": pd.Series([1.5, 2.5], name="s"),
        "table": pa.table({"k": [1, 2], "v": ["p", "q"]}),
        "counter": collections.Counter("abracadabra"),  # no safe format: the pickle fallback
    }
    for name, obj in objects.items():
        art = fa.materialize(obj, name, "run-1", "make", "demo", stack=stack)
        assert art.version == 1 and art.size > 0
    file_art = fa.upload_file(sample_tree(tmp_path / "tree") / "a.txt", "file", "demo", stack=stack)
    dir_art = fa.upload_file(tmp_path / "tree", "tree", "demo", stack=stack)

    assert fa.load("store://demo/blob", stack=stack) == objects["blob"]
    assert fa.load("store://demo/report", stack=stack) == objects["report"]
    np.testing.assert_array_equal(fa.load("store://demo/matrix", stack=stack), objects["matrix"])
    pd.testing.assert_frame_equal(fa.load("store://demo/frame", stack=stack), frame)
    pd.testing.assert_series_equal(fa.load("store://demo/series", stack=stack), objects["series"])
    assert fa.load("store://demo/table", stack=stack).equals(objects["table"])
    assert fa.load("store://demo/counter", stack=stack) == objects["counter"]
    assert Path(fa.load(file_art, stack=stack)).read_text() == "alpha"
    loaded_tree = Path(fa.load(dir_art, stack=stack))
    assert (loaded_tree / "sub" / "b.bin").read_bytes() == bytes(range(256)) * 40
    assert dir_art.manifest.directory and sorted(dir_art.manifest.files) == ["a.txt", "sub/b.bin"]
    assert fa.get_artifact("store://demo/frame", stack=stack).metadata["rows"] == 3
    assert all(result.ok for result in verify(stack=stack))


def test_manifests_describe_the_stored_bytes(target: Target, make_stack) -> None:
    stack = make_stack(target)
    store = stack.store
    art = fa.materialize(
        {"k": "v"}, "report", "r1", "s", "demo", labels={"team": "ml"}, stack=stack
    )
    files = stored_files(store)
    journal = [p for p in files if p.startswith(JOURNAL_DIR + "/")]

    assert len(journal) == 1  # the step run this write created, for reindex
    assert sorted(set(files) - set(journal)) == [art.key + MANIFEST_SUFFIX, art.manifest.data_path]
    manifest = json.loads(files[art.key + MANIFEST_SUFFIX])
    assert manifest["checksum"] == art.checksum and manifest["size"] == art.size
    assert manifest["labels"] == {"team": "ml"} and manifest["version"] == 1
    assert store.list_artifacts() == [art.key] and store.list_artifacts("demo/r1") == [art.key]
    assert store.exists(art.key) and store.exists(art.path) and not store.exists("demo/nope")
    assert store.size(art.key) == art.size
    assert store.get_metadata(art.key)["materializer"] == "builtins.json"
    assert store.load(art.key) == {"k": "v"}


def test_artifacts_are_written_once(target: Target, make_stack) -> None:
    stack = make_stack(target)
    first = fa.materialize(b"first", "model", "r1", "train", "demo", stack=stack)
    before = stored_files(stack.store)

    with pytest.raises(fa.ArtifactExists, match="model"):
        stack.store.materialize(b"second", "model", "r1", "train", "demo")
    with pytest.raises(fa.ArtifactExists, match="model"):  # another format, another data path
        stack.store.materialize({"other": 1}, "model", "r1", "train", "demo")

    assert stored_files(stack.store) == before
    assert fa.load(first, stack=stack) == b"first"
    # a stack's write of the taken key goes to the next versioned key instead (issue 14)
    again = fa.materialize({"other": 1}, "model", "r1", "train", "demo", stack=stack)
    assert again.version == 2 and again.key == first.key + ".v2"
    assert fa.load(first, stack=stack) == b"first"
    assert fa.load(again, stack=stack) == {"other": 1}


def test_versions_tags_and_lineage(target: Target, make_stack) -> None:
    stack = make_stack(target)
    raw = fa.materialize(pd.DataFrame({"x": [1]}), "raw", "r1", "ingest", "demo", stack=stack)
    v1 = fa.materialize(b"m1", "model", "r1", "train", "demo", inputs=[raw], stack=stack)
    v2 = fa.materialize(b"m2", "model", "r2", "train", "demo", inputs=[raw.uri], stack=stack)
    fa.tag(v1, "prod", stack=stack)

    assert (v1.version, v2.version) == (1, 2)
    assert fa.load("store://demo/model", stack=stack) == b"m2"
    assert fa.load("store://demo/model@1", stack=stack) == b"m1"
    assert fa.get_artifact("store://demo/model:prod", stack=stack).id == v1.id
    assert raw.id in fa.lineage(v2, stack=stack).artifacts
    assert v2.id in fa.lineage(raw, "downstream", stack=stack).artifacts


def test_reindex_rebuilds_a_lost_catalog(target: Target, make_stack) -> None:
    stack = make_stack(target)
    raw = fa.materialize(b"raw", "raw", "r1", "ingest", "demo", stack=stack)
    fa.materialize(b"m1", "model", "r1", "train", "demo", inputs=[raw], stack=stack)
    fa.materialize(b"m2", "model", "r2", "train", "demo", stack=stack)
    rebuilt = make_stack(target)

    assert fa.reindex(stack=rebuilt).added == 3
    assert fa.reindex(stack=rebuilt).added == 0
    assert fa.get_artifact("store://demo/model", stack=rebuilt).version == 2
    v1 = fa.get_artifact("store://demo/model@1", stack=rebuilt)
    assert raw.id in fa.lineage(v1, stack=rebuilt).artifacts
    assert fa.load(v1, stack=rebuilt) == b"m1"


def test_delete_removes_bytes_and_manifest(target: Target, make_stack, tmp_path: Path) -> None:
    stack = make_stack(target)
    keep = fa.materialize(b"keep", "keep", "r1", "s", "demo", stack=stack)
    fa.materialize(b"v1", "gone", "r1", "s", "demo", stack=stack)
    fa.materialize(b"v2", "gone", "r2", "s", "demo", stack=stack)
    tree = fa.upload_file(sample_tree(tmp_path / "tree"), "tree", "demo", stack=stack)

    assert len(fa.delete("gone", "demo", all_versions=True, stack=stack)) == 2
    fa.delete(tree, stack=stack)

    assert artifact_files(stack.store) == sorted(
        [keep.key + MANIFEST_SUFFIX, keep.manifest.data_path]
    )
    with pytest.raises(fa.ArtifactNotFound):
        fa.get_artifact("store://demo/gone", stack=stack)
    assert stack.store.list_artifacts() == [keep.key]


def test_failed_and_interrupted_writes_leave_nothing_after_gc(target: Target, make_stack) -> None:
    plugins = host_with(partial=RegisterPlugin(PartialWriteMaterializer))
    stack = make_stack(target, plugins=plugins)
    with pytest.raises(fa.MaterializerError) as failed:
        fa.materialize(b"x", "half", "r1", "s", "demo", materializer="tests.partial", stack=stack)
    assert isinstance(failed.value.__cause__, DiskFull)
    assert stored_files(stack.store) == {}

    # A writer between its bytes and its manifest: alive (its lease renewed), so gc keeps all.
    store = stack.store
    chosen = plugins.materializers.get("builtins.bytes")
    pending = store.write_data(
        b"pending", lambda _: chosen, key="demo/r1/s/pending", name="pending"
    )
    assert not store.exists(pending.key) and store.list_artifacts() == []
    kept = fa.materialize(b"kept", "kept", "r1", "s", "demo", stack=stack)

    assert gc(dry_run=True, stack=stack).paths == []
    assert gc(stack=stack).paths == []
    assert store.fs.exists(f"{store.root}/{pending.data_path}")
    store.discard_unpublished(pending)  # the write gives up: it leaves nothing, record included

    assert artifact_files(stack.store) == sorted(
        [kept.key + MANIFEST_SUFFIX, kept.manifest.data_path]
    )


def test_streams_local_copies_and_downloads(target: Target, make_stack, tmp_path: Path) -> None:
    stack = make_stack(target)
    payload = bytes(range(256)) * 5000  # 1.2 MiB
    art = fa.materialize(payload, "blob", "r1", "s", "demo", stack=stack)
    tree = fa.upload_file(sample_tree(tmp_path / "tree"), "tree", "demo", stack=stack)

    chunks = list(art.as_stream(chunk_size=100_000))
    assert b"".join(chunks) == payload and max(len(c) for c in chunks) <= 100_000
    assert art.open().read() == payload
    with art.as_local_file() as local:
        assert local.read_bytes() == payload
    assert not local.exists()
    assert (
        fa.download("store://demo/blob", tmp_path / "out" / "blob.bin", stack=stack).read_bytes()
        == payload
    )
    with tree.as_local_file() as local_tree:
        assert (local_tree / "a.txt").read_text() == "alpha"
    with pytest.raises(fa.UnsupportedOperation, match="directory"):
        tree.as_stream()


def test_corrupted_bytes_are_caught_on_every_read_path(
    target: Target, make_stack, tmp_path: Path
) -> None:
    stack = make_stack(target)
    art = fa.materialize(b"honest bytes" * 1000, "blob", "r1", "s", "demo", stack=stack)
    stack.store.fs.pipe_file(stack.store.full_path(art.manifest.data_path), b"tampered" * 1000)

    with pytest.raises(fa.IntegrityError, match="blob"):
        b"".join(art.as_stream())
    with pytest.raises(fa.IntegrityError):
        art.download(tmp_path / "copy.bin")
    assert not (tmp_path / "copy.bin").exists()
    with pytest.raises(fa.IntegrityError):
        fa.load(art, stack=stack)
    assert [r.ok for r in verify(stack=stack)] == [False]


def test_presigned_urls_download_without_credentials(target: Target, make_stack) -> None:
    kind = target[0]
    stack = make_stack(target)
    art = fa.materialize(b"signed bytes", "blob", "r1", "s", "demo", stack=stack)
    report = fa.materialize({"a": 1}, "report", "r1", "s", "demo", stack=stack)
    if kind in ("local", "memory"):
        with pytest.raises(fa.UnsupportedOperation, match="presigned"):
            art.presigned_url()
        if kind == "local":
            assert art.presigned_url(allow_local=True).startswith("file://")
        return

    url = art.presigned_url(expires_in=300, **sign_options(kind))
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"signed bytes"
    assert report.presigned_url(60, **sign_options(kind)) != url
    with pytest.raises(fa.ConfigError):
        art.presigned_url(expires_in=0)


def test_gcs_signing_without_a_key_says_what_is_needed(gcs_bucket_url, make_stack) -> None:
    url, options = gcs_bucket_url
    stack = make_stack(("gcs", url, options))
    art = fa.materialize(b"x", "blob", "r1", "s", "demo", stack=stack)

    with pytest.raises(fa.UnsupportedOperation, match="credentials="):
        art.presigned_url()


def test_azure_sas_urls_expire_and_refuse_tampering(azure_container_url, make_stack) -> None:
    url, options = azure_container_url
    stack = make_stack(("azure", url, options))
    art = fa.materialize(b"secret payload", "blob", "r1", "s", "demo", stack=stack)
    good = art.presigned_url(expires_in=300)
    expired = art.presigned_url(expires_in=1)
    tampered = good.replace("sp=r", "sp=rw") if "sp=r" in good else good[:-3] + "abc"

    import time

    time.sleep(2)
    with urllib.request.urlopen(good, timeout=10) as response:
        assert response.read() == b"secret payload"
    for refused in (expired, tampered):
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(refused, timeout=10)
        assert denied.value.code == 403


@pytest.mark.parametrize("kind", ["s3", "azure"])
def test_object_stores_with_a_postgres_catalog(
    kind: str, request: pytest.FixtureRequest, make_stack, postgres_url: str
) -> None:
    fixture = {"s3": "s3_bucket_url", "azure": "azure_container_url"}[kind]
    url, options = request.getfixturevalue(fixture)
    stack = make_stack((kind, url, options), catalog_url=postgres_url)
    raw = fa.materialize(pd.DataFrame({"x": [1, 2]}), "raw", "r1", "ingest", "demo", stack=stack)
    model = fa.materialize(b"m", "model", "r1", "train", "demo", inputs=[raw], stack=stack)
    fa.tag(model, "prod", stack=stack)

    assert fa.load("store://demo/model:prod", stack=stack) == b"m"
    assert raw.id in fa.lineage(model, stack=stack).artifacts
    assert stack.catalog.count("demo") == 2 and stack.catalog.url == postgres_url
