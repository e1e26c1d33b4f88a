"""New artifacts carry BLAKE3 checksums; artifacts written with sha256 keep verifying, each with
the algorithm its catalog row names. An edited byte, a manifest naming another algorithm than its
row, and an algorithm nobody knows are integrity errors, never followed."""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Iterator
from pathlib import Path

import blake3
import pandas as pd
import pytest
from sqlalchemy import update

import flow_artifacts as fa
from flow_artifacts import hashing
from flow_artifacts.catalog import Catalog
from flow_artifacts.catalog.schema import artifacts
from flow_artifacts.errors import IntegrityError
from flow_artifacts.maintenance import verify
from flow_artifacts.manifest import MANIFEST_SUFFIX
from tests.pickle_payload import Payload

LARGE = 9 << 20  # past 8 MiB: written in chunks hashed in a second thread, read likewise


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[fa.Stack]:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    store = fa.ArtifactStore(tmp_path / "store")
    yield fa.Stack(store=store, catalog=catalog, plugins=store.plugins)
    catalog.close()


def data_file(stack: fa.Stack, art: fa.Artifact) -> Path:
    return Path(stack.store.full_path(art.manifest.data_path))


def flip_byte(path: Path) -> None:
    body = bytearray(path.read_bytes())
    body[len(body) // 2] ^= 0x01
    path.write_bytes(bytes(body))


def edit_manifest(stack: fa.Stack, art: fa.Artifact, **changes: object) -> None:
    path = Path(stack.store.full_path(art.key + MANIFEST_SUFFIX))
    body = json.loads(path.read_bytes())
    body.update(changes)
    path.write_text(json.dumps(body))


def edit_row(stack: fa.Stack, art: fa.Artifact, checksum: str) -> None:
    with stack.catalog.engine.begin() as conn:
        conn.execute(update(artifacts).where(artifacts.c.id == art.id).values(checksum=checksum))


def write_each_kind(stack: fa.Stack, tmp_path: Path) -> dict[str, fa.Artifact]:
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub" / "b.bin").write_bytes(bytes(range(256)) * 40)
    objects = {
        "report": {"accuracy": 0.9},
        "large": b"\x07" * LARGE,
        "table": pd.DataFrame({"x": range(1000)}),
        "model": {"weights": list(range(1000))},
        "folder": folder,
    }
    return {name: fa.materialize(obj, name, "r1", "s", "demo", stack=stack)
            for name, obj in objects.items()}  # fmt: skip


def test_new_artifacts_record_the_blake3_of_their_bytes(stack: fa.Stack, tmp_path: Path) -> None:
    written = write_each_kind(stack, tmp_path)
    for name, art in written.items():
        assert art.checksum.startswith("blake3:"), name
        if name != "folder":
            expected = blake3.blake3(data_file(stack, art).read_bytes()).hexdigest()
            assert art.checksum == f"blake3:{expected}"
    members = written["folder"].manifest.files
    root = data_file(stack, written["folder"])
    for rel, (hexdigest, size) in members.items():
        body = (root / rel).read_bytes()
        assert [hexdigest, size] == [blake3.blake3(body).hexdigest(), len(body)]


@pytest.mark.parametrize("name", ["report", "large", "table", "model", "folder"])
def test_an_edited_byte_of_a_blake3_artifact_fails_every_read(
    stack: fa.Stack, tmp_path: Path, name: str
) -> None:
    art = write_each_kind(stack, tmp_path)[name]
    target = data_file(stack, art)
    flip_byte(target / "sub" / "b.bin" if name == "folder" else target)
    with pytest.raises(IntegrityError, match="corrupted"):
        fa.load(art.uri, stack=stack)
    with pytest.raises(IntegrityError, match="corrupted"):
        stack.store.verify(art.manifest)
    assert [r.ok for r in verify([art.uri], stack=stack)] == [False]


def test_an_edited_blake3_pickle_never_runs(stack: fa.Stack, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    art = fa.materialize(["x" * LARGE], "model", "r1", "s", "demo", stack=stack)
    hostile = pickle.dumps(Payload(marker), protocol=5)
    target = data_file(stack, art)
    body = target.read_bytes()
    target.write_bytes(hostile + body[len(hostile) :])  # same size, other bytes
    with pytest.raises(IntegrityError):
        fa.load(art.uri, stack=stack)
    assert not marker.exists()


def sha256_of(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def blake3_of(path: Path) -> str:
    return "blake3:" + blake3.blake3(path.read_bytes()).hexdigest()


def plant_copy(stack: fa.Stack, art: fa.Artifact, checksum: str) -> str:
    """A copy of `art` at a new key, claiming its id, with `checksum` in its manifest."""
    planted = "demo/r2/s/blob"
    data = Path(stack.store.full_path(planted + ".bin"))
    data.parent.mkdir(parents=True)
    data.write_bytes(data_file(stack, art).read_bytes())
    body = json.loads(Path(stack.store.full_path(art.key + MANIFEST_SUFFIX)).read_bytes())
    body.update(key=planted, data_path=planted + ".bin", run_id="r2", checksum=checksum)
    Path(stack.store.full_path(planted + MANIFEST_SUFFIX)).write_text(json.dumps(body))
    return planted


@pytest.mark.parametrize("written_with", ["blake3", "sha256"])
def test_a_manifest_naming_another_algorithm_than_its_row_is_not_followed(
    stack: fa.Stack, monkeypatch: pytest.MonkeyPatch, written_with: str
) -> None:
    monkeypatch.setattr(hashing, "CHECKSUM_ALGORITHM", written_with)
    art = fa.materialize(b"payload", "blob", "r1", "s", "demo", stack=stack)
    monkeypatch.undo()
    recorded = (blake3_of if written_with == "blake3" else sha256_of)(data_file(stack, art))
    other = (sha256_of if written_with == "blake3" else blake3_of)(data_file(stack, art))
    assert art.checksum == recorded
    # edited in place to a correct checksum of the very bytes in the other algorithm: reads
    # go by the row
    edit_manifest(stack, art, checksum=other)
    assert fa.get_artifact(art.manifest.data_path, stack=stack).checksum == recorded
    assert fa.load(art.manifest.data_path, stack=stack) == b"payload"
    # a copy claiming the row's id with the other algorithm: an integrity error
    planted = plant_copy(stack, art, other)
    for ref in (planted, planted + ".bin"):
        with pytest.raises(IntegrityError, match="disagrees with its catalog row on .*checksum"):
            fa.load(ref, stack=stack)


@pytest.mark.parametrize("name", ["report", "large", "model", "folder"])
def test_a_row_naming_an_unknown_algorithm_is_refused_clearly(
    stack: fa.Stack, tmp_path: Path, name: str
) -> None:
    marker = tmp_path / "ran"
    art = write_each_kind(stack, tmp_path)[name]
    if name == "model":  # a pickle whose row was edited must not run either
        target = data_file(stack, art)
        target.write_bytes(pickle.dumps(Payload(marker), protocol=5))
    edit_row(stack, art, "md5:" + "0" * 64)
    row = fa.get_artifact(art.uri, stack=stack)
    for read in (lambda: fa.load(art.uri, stack=stack), lambda: stack.store.verify(row.manifest)):
        with pytest.raises(IntegrityError) as caught:
            read()
        assert "checksum algorithm 'md5' is not known (known: blake3, sha256)" in str(caught.value)
    assert not marker.exists()
    if name != "folder":
        with pytest.raises(IntegrityError, match="'md5' is not known"):
            b"".join(stack.store.open_stream(row.manifest))


@pytest.mark.parametrize(
    "checksum", ["md5:" + "0" * 64, "blake3:" + "0" * 63, "sha256:" + "A" * 64, "0" * 64, ""]
)
def test_a_planted_manifest_with_a_malformed_checksum_is_refused(
    stack: fa.Stack, checksum: str
) -> None:
    art = fa.materialize(b"payload", "blob", "r1", "s", "demo", stack=stack)
    edit_manifest(stack, art, checksum=checksum)
    with pytest.raises(IntegrityError, match=r"checksum is not <algorithm>:<64 hex digits>"):
        stack.store.get_manifest(art.key)


def test_a_store_written_with_sha256_still_loads_verifies_and_reindexes(
    stack: fa.Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashing, "CHECKSUM_ALGORITHM", "sha256")
    old = write_each_kind(stack, tmp_path)
    monkeypatch.undo()
    for name, art in old.items():
        assert art.checksum.startswith("sha256:"), name
        if name != "folder":
            assert art.checksum == sha256_of(data_file(stack, art))
    new = fa.materialize({"accuracy": 0.95}, "report", "r2", "s", "demo", stack=stack)
    assert new.checksum.startswith("blake3:")  # a new version of an old name: the new algorithm

    def check_loads(where: fa.Stack) -> None:
        assert fa.load("demo/report@1", stack=where) == {"accuracy": 0.9}
        assert fa.load("demo/report@2", stack=where) == {"accuracy": 0.95}
        assert fa.load("demo/large", stack=where) == b"\x07" * LARGE
        assert fa.load("demo/table", stack=where)["x"].sum() == sum(range(1000))
        assert fa.load("demo/model", stack=where) == {"weights": list(range(1000))}
        copied = fa.load("demo/folder", stack=where)
        assert (Path(copied) / "a.txt").read_text() == "alpha"
        assert all(result.ok for result in verify(stack=where))

    check_loads(stack)
    rebuilt = fa.Stack(
        store=stack.store, catalog=Catalog(f"sqlite:///{tmp_path / 'rebuilt.db'}"),
        plugins=stack.store.plugins,
    )  # fmt: skip
    report = fa.reindex(trust_pickles=True, stack=rebuilt)
    assert report.skipped == [] and report.added == 6
    assert {a.checksum for a in fa.list_artifacts("demo", stack=rebuilt)} == {
        *(a.checksum for a in old.values()),
        new.checksum,
    }
    check_loads(rebuilt)
    flip_byte(data_file(stack, old["large"]))
    with pytest.raises(IntegrityError, match="corrupted"):
        fa.load("demo/large", stack=rebuilt)
    rebuilt.catalog.close()
