"""The store is untrusted input: edited or planted manifests, hostile folder members, and folder
uploads holding links, FIFOs and sockets, tried as a hostile user would."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.cli.main import cli
from flow_artifacts.manifest import MANIFEST_SUFFIX
from flow_artifacts.stores.paths import IDENTITY
from flow_artifacts.ui.app import create_app
from tests.pickle_payload import Payload

SECRET = b"the private key of the user running the server\n"


def manifest_path(store: fa.ArtifactStore, key: str) -> Path:
    return Path(store.full_path(key + MANIFEST_SUFFIX))


def edit_manifest(store: fa.ArtifactStore, at: str, **changes: object) -> dict:
    path = manifest_path(store, at)
    body = json.loads(path.read_bytes())
    body.update(changes)
    path.write_text(json.dumps(body))
    return body


def write_stack_file(folder: Path, store_url: str, catalog_url: str, options=None) -> str:
    path = folder / "stack.yaml"
    store = {"url": store_url, "storage_options": options or {}}
    path.write_text(json.dumps({"artifact_store": store, "catalog": {"url": catalog_url}}))
    return str(path)


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- 1. the catalog is the trust root -------------------------------------------------------------


@pytest.fixture
def trusting(tmp_path, catalog_url):
    """A stack that loads pickles of the `models` project only."""
    catalog = Catalog(catalog_url)
    yield fa.Stack(
        store=fa.ArtifactStore(tmp_path / "artifacts"),
        catalog=catalog,
        allow_pickle="trusted-projects",
        trusted_projects=["models"],
    )
    catalog.close()


def test_a_manifest_relabeling_recorded_bytes_as_a_pickle_runs_no_code(trusting, tmp_path):
    marker = tmp_path / "code-ran"
    payload = pickle.dumps(Payload(marker))
    art = fa.materialize(payload, "blob", "r1", "s", "models", stack=trusting)
    assert art.materializer == "builtins.bytes"
    store = trusting.store
    # in place: the store path resolves to the catalog row, which says bytes
    edit_manifest(store, art.key, materializer="cloudpickle", kind="model", mime_type="x")
    for ref in (art.key, art.path, art.uri, art.id):
        assert fa.load(ref, stack=trusting) == payload
        assert fa.get_artifact(ref, stack=trusting).materializer == "builtins.bytes"
    # planted at a new key, claiming the recorded id and checksum: disagrees with the row
    planted = "models/r2/s/blob"
    Path(store.full_path(planted)).parent.mkdir(parents=True)
    Path(store.full_path(planted + ".pkl")).write_bytes(payload)
    body = json.loads(manifest_path(store, art.key).read_bytes())
    body.update(key=planted, data_path=planted + ".pkl", run_id="r2")
    manifest_path(store, planted).write_text(json.dumps(body))
    for ref in (planted, planted + ".pkl", store.full_path(planted + ".pkl")):
        with pytest.raises(fa.IntegrityError, match="disagrees with its catalog row"):
            fa.load(ref, stack=trusting)
    # planted with a new id: uncataloged, so never unpickled, by the stack or the bare store
    body["id"] = str(uuid.uuid4())
    manifest_path(store, planted).write_text(json.dumps(body))
    with pytest.raises(fa.PickleRefused, match="without a catalog row"):
        fa.load(planted, stack=trusting)
    with pytest.raises(fa.PickleRefused):
        store.load(planted)
    with pytest.raises(fa.PickleRefused):
        store.artifact(planted).load()
    assert not marker.exists()


def test_a_row_and_its_manifest_json_agree_with_the_columns(stack):
    art = fa.materialize({"a": 1}, "report", "r1", "s", "demo", stack=stack)
    row = stack.catalog.get(art.id)
    assert row.to_dict() == art.manifest.to_dict()


def test_an_edited_data_path_makes_rm_delete_nothing_outside(stack, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "thesis.tex").write_text("years of work")
    for run in ("r1", "r2", "r3"):
        fa.materialize({"v": run}, "report", run, "s", "demo", stack=stack)
    store = stack.store
    depth = len(store.root.split("/")) + 4
    escape = "../" * depth + victim.as_posix().lstrip("/")
    for run in ("r1", "r2", "r3"):
        edit_manifest(store, f"demo/{run}/s/report", data_path=escape)
    # by uri and by store path: the row's data path is deleted, exactly
    assert fa.delete("store://demo/report@1", stack=stack)
    runner = CliRunner()
    stack_file = write_stack_file(tmp_path, store.root, stack.catalog.url)
    result = runner.invoke(cli, ["--stack", stack_file, "rm", "demo/r2/s/report.json"])
    assert result.exit_code == 0, result.output
    assert not Path(store.full_path("demo/r2/s/report.json")).exists()
    # a bare store follows no edited manifest either
    with pytest.raises(fa.IntegrityError, match="data path"):
        store.delete("demo/r3/s/report")
    assert tree(victim) == {"thesis.tex": b"years of work"}


def plant(store: fa.ArtifactStore, key: str, data_path: str, data: bytes, **fields) -> None:
    """A manifest written into the store by someone with write access to it."""
    body = {
        "format": "flow-artifacts.manifest",
        "format_version": 1,
        "id": str(uuid.uuid4()),
        "key": key,
        "data_path": data_path,
        "project": "demo",
        "name": key.rsplit("/", 1)[-1],
        "run_id": "r9",
        "step": "s",
        "materializer": "builtins.bytes",
        "materializer_version": "1",
        "kind": "object",
        "mime_type": "text/plain",
        "size": len(data),
        "checksum": sha(data),
        "created": "2026-01-01T00:00:00+00:00",
        "version": 1,
        **fields,
    }
    path = manifest_path(store, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body))


def test_planted_manifests_cannot_make_get_or_the_page_serve_a_file_outside(stack, tmp_path):
    outside = tmp_path / "id_ed25519"
    outside.write_bytes(SECRET)
    store = stack.store
    fa.materialize(b"fine", "fine", "r1", "s", "demo", stack=stack)
    escape = "../" * (len(store.root.split("/")) + 4) + outside.as_posix().lstrip("/")
    plant(store, "demo/r9/s/dotdot", escape, SECRET)
    report = fa.reindex(stack=stack)
    assert [path for path, why in report.skipped if "data path" in why] == [
        "demo/r9/s/dotdot.artifact.json"
    ]
    with pytest.raises(fa.ArtifactNotFound):
        fa.get_artifact("store://demo/dotdot", stack=stack)
    manifest_path(store, "demo/r9/s/dotdot").unlink()
    # a link inside the store to the file, with its (known) checksum: recorded, never served
    link = Path(store.full_path("demo/r9/s/leak.txt"))
    link.symlink_to(outside)
    plant(store, "demo/r9/s/leak", "demo/r9/s/leak.txt", SECRET)
    fa.reindex(stack=stack)
    stack_file = write_stack_file(tmp_path, store.root, stack.catalog.url)
    command = [sys.executable, "-m", "flow_artifacts", "--stack", stack_file]
    piped = subprocess.run([*command, "get", "store://demo/leak", "-o", "-"], capture_output=True)
    assert piped.returncode == 1 and SECRET not in piped.stdout + piped.stderr
    assert b"outside the store" in piped.stderr and str(outside).encode() not in piped.stderr
    with TestClient(create_app(stack), base_url="http://127.0.0.1") as client:
        download = client.get("/api/content/demo/leak")
        assert download.status_code == 500 and SECRET not in download.content
        shown = client.get("/api/preview/demo/leak").json()
        assert shown["type"] == "error" and "outside the store" in shown["message"]
    with pytest.raises(fa.IntegrityError):
        fa.download("store://demo/leak", tmp_path / "copy", stack=stack)
    assert not (tmp_path / "copy").exists()


def test_get_names_its_output_from_the_catalog_and_never_overwrites(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    art = fa.materialize({"rows": 3}, "raw", "r1", "ingest", "demo")
    edit_manifest(fa.get_stack().store, art.key, data_path=".bashrc", key=".bashrc")
    (tmp_path / ".bashrc").write_text("mine")
    first = CliRunner().invoke(cli, ["get", "store://demo/raw"])
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "raw-v1.json"
    assert json.loads((tmp_path / "raw-v1.json").read_text()) == {"rows": 3}
    (tmp_path / "raw-v1.json").write_text("edited by hand")
    again = CliRunner().invoke(cli, ["get", "store://demo/raw"])
    assert again.exit_code == 1 and "already exists; pass --force" in again.stderr
    assert (tmp_path / "raw-v1.json").read_text() == "edited by hand"
    into = tmp_path / "downloads"
    into.mkdir()
    (into / "raw-v1.json").write_text("older copy")
    assert CliRunner().invoke(cli, ["get", "store://demo/raw", "-o", str(into)]).exit_code == 1
    forced = CliRunner().invoke(cli, ["get", "store://demo/raw", "-o", str(into), "--force"])
    assert forced.exit_code == 0, forced.output
    assert json.loads((into / "raw-v1.json").read_text()) == {"rows": 3}
    assert (tmp_path / ".bashrc").read_text() == "mine"


# --- 2. nothing is written outside the target ---------------------------------------------------


def test_an_s3_folder_member_with_dotdot_writes_nothing_outside(
    s3_bucket_url, catalog_url, tmp_path
):
    url, options = s3_bucket_url
    catalog = Catalog(catalog_url)
    stack = fa.Stack(store=fa.ArtifactStore(url, **options), catalog=catalog)
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    art = fa.upload_file(folder, "data", "demo", stack=stack)
    landing = tmp_path / "landing"
    escape = "../" * 40 + (landing / "escaped.txt").as_posix().lstrip("/")
    stack.store.fs.pipe_file(f"{stack.store.root}/{art.key}/{escape}", b"planted")
    assert any(".." in p for p in stack.store.fs.find(f"{stack.store.root}/{art.key}"))
    with pytest.raises(fa.IntegrityError, match="not in its record"):
        art.load()
    with pytest.raises(fa.IntegrityError, match="not in its record"):
        art.download(tmp_path / "target")
    result = CliRunner().invoke(
        cli, ["--stack", write_stack_file(tmp_path, url, catalog_url, options), "get", art.uri]
    )
    assert result.exit_code == 1
    assert not landing.exists() and not (tmp_path / "target").exists()
    catalog.close()


def test_a_folder_member_named_in_a_manifest_cannot_escape_the_target(tmp_path):
    store = fa.ArtifactStore(tmp_path / "store")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    art = store.materialize(folder, "data", "r1", "s")
    data = Path(store.full_path(art.manifest.data_path))
    for hostile in ("../escaped.txt", "/etc/escaped.txt", "C:/escaped.txt", "a\\..\\x", "a//b"):
        body = edit_manifest(store, art.key, files={hostile: ["0" * 64, 1]})
        with pytest.raises(fa.IntegrityError, match="folder member"):
            store.load(art.key)
        assert body["files"]
    assert tree(data) == {"a.txt": b"a"}
    assert not (tmp_path / "escaped.txt").exists()


def test_a_download_into_a_folder_with_a_link_does_not_write_through_it(tmp_path):
    store = fa.ArtifactStore(tmp_path / "store")
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "b.txt").write_text("b")
    art = store.materialize(folder, "data", "r1", "s")
    target, elsewhere = tmp_path / "target", tmp_path / "elsewhere"
    (target / "data").mkdir(parents=True)  # a folder receives the artifact inside it
    elsewhere.mkdir()
    (target / "data" / "sub").symlink_to(elsewhere)
    with pytest.raises(fa.IntegrityError, match="symbolic link"):
        art.download(target)
    assert list(elsewhere.iterdir()) == []


# --- 3. folder uploads take only what is inside -------------------------------------------------


@pytest.fixture
def hostile_folder(tmp_path):
    """A folder holding a file, an inside link, and links, a FIFO and a socket that are refused."""
    outside = tmp_path / "id_ed25519"
    outside.write_bytes(SECRET)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.txt").write_text("x")
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "data.csv").write_text("a,b\n")
    (folder / "same.csv").symlink_to("data.csv")
    (folder / "sub" / "key").symlink_to(outside)
    (folder / "linked").symlink_to(tmp_path / "elsewhere")
    (folder / "broken").symlink_to(tmp_path / "nothing")
    os.mkfifo(folder / "pipe")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "sock"))
    yield folder
    server.close()


def test_a_folder_upload_refuses_links_out_fifos_and_sockets_in_one_error(stack, hostile_folder):
    with pytest.raises(fa.UnsupportedOperation) as caught:
        fa.upload_file(hostile_folder, "data", "demo", stack=stack)
    message = str(caught.value)
    for listed in (
        "'sub/key' (a symbolic link leading outside the folder)",
        "'linked' (a symbolic link to a folder)",
        "'broken' (a broken symbolic link)",
        "'pipe' (a FIFO)",
        "'sock' (a socket)",
    ):
        assert listed in message
    assert "data.csv" not in message and str(hostile_folder.parent) not in message
    assert stack.catalog.count() == 0
    stored = [p for p in Path(stack.store.root).rglob("*") if p.is_file()]
    assert [p.relative_to(stack.store.root).as_posix() for p in stored] == [IDENTITY]


def test_follow_symlinks_copies_link_targets_on_purpose(stack, hostile_folder):
    for name in ("pipe", "sock", "broken"):
        (hostile_folder / name).unlink()
    art = fa.upload_file(hostile_folder, "data", "demo", follow_symlinks=True, stack=stack)
    assert sorted(art.manifest.files) == ["data.csv", "linked/x.txt", "same.csv", "sub/key"]
    loaded = fa.load(art.uri, stack=stack)
    assert (loaded / "sub" / "key").read_bytes() == SECRET
    assert (loaded / "same.csv").read_text() == "a,b\n"
    with pytest.raises(fa.UnsupportedOperation, match="'sub/key'"):
        fa.upload_file(hostile_folder, "data", "demo", stack=stack)  # not without asking


def test_ignored_entries_are_neither_refused_nor_uploaded(stack, hostile_folder):
    (hostile_folder / ".artifactignore").write_text("sub\nlinked\nbroken\npipe\nsock\n")
    art = fa.upload_file(hostile_folder, "data", "demo", stack=stack)
    assert sorted(art.manifest.files) == [".artifactignore", "data.csv", "same.csv"]


def test_a_link_looping_back_is_refused_even_when_following(stack, tmp_path):
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "up").symlink_to(folder)
    with pytest.raises(fa.UnsupportedOperation, match="'sub/up' .a symbolic link looping"):
        fa.upload_file(folder, "data", "demo", follow_symlinks=True, stack=stack)


def test_uploading_a_fifo_itself_is_refused_without_opening_it(stack, tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(fa.UnsupportedOperation, match="not a regular file or a folder"):
        fa.upload_file(tmp_path / "pipe", "pipe", "demo", stack=stack)
