"""Property: however a manifest in the store is edited, nothing runs, escapes or breaks badly.

Random edits of a manifest's fields and of folder member names make `load`, `get`, `rm`,
`reindex` and the web page API either behave as before or raise a `FlowArtifactsError`. None of
them runs code from the store (the pickled payload would create a marker file), none writes or
deletes anything outside the store and the target folder, and no byte of a file outside the
store ever comes back.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.cli.main import cli
from flow_artifacts.manifest import MANIFEST_SUFFIX
from flow_artifacts.ui.app import create_app
from tests.pickle_payload import Payload

SECRET = b"bytes of a file outside the store\n"
FIELDS = (
    "id", "key", "data_path", "name", "materializer", "kind", "mime_type", "size", "checksum",
    "created", "directory", "metadata", "files", "version", "inputs", "labels",
    "project", "run_id", "step", "step_run_id",
)  # fmt: skip


def hostile_values(root: Path) -> st.SearchStrategy[Any]:
    secret = str(root / "outside" / "secret.txt")
    paths = [
        "../outside/secret.txt", "../../../../../../../../" + secret.lstrip("/"), secret,
        "demo/r1/s/blob/../../../../outside/secret.txt", "C:/secret.txt", "a\\..\\b", "a//b",
        ".", "..", "", "s3://other-bucket/x", "demo/r1/s/blob.pkl", "demo/r1/s/report.json",
        "demo/r1/s/folder", "demo/r1/s/blob\0.bin",
    ]  # fmt: skip
    return st.one_of(
        st.sampled_from(paths),
        st.sampled_from(["cloudpickle", "builtins.bytes", "builtins.json", "filesystem.path"]),
        st.sampled_from([None, True, False, 0, -1, 2**70, [], {}, "x" * 300, "sha256:" + "0" * 64]),
        st.sampled_from([{"filename": "../../escaped", "type": "directory"}, {"filename": ".."}]),
        st.text(max_size=12),
        st.integers(),
    )


@st.composite
def tampering(draw: st.DrawFn, root: Path) -> list[tuple[str, str, Any]]:
    """A few edits: (artifact, field or "member", new value)."""
    values = hostile_values(root)
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(["blob", "report", "folder"]))
        field = draw(st.sampled_from((*FIELDS, "member")))
        edits.append((target, field, draw(values)))
    return edits


def snapshot(root: Path, inside: tuple[Path, ...]) -> dict[str, bytes]:
    """Every file under `root` except under `inside` (store, targets, catalog files)."""
    found = {}
    for path in root.rglob("*"):
        if any(path == p or p in path.parents for p in inside) or path.name.startswith("catalog"):
            continue
        if path.is_file() or path.is_symlink():
            found[str(path.relative_to(root))] = path.read_bytes() if path.is_file() else b"link"
    return found


def attempt(action: Any) -> Any:
    try:
        return action()
    except fa.FlowArtifactsError:
        return None


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # shrinking could take minutes
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@given(data=st.data())
def test_manifest_tampering_runs_nothing_and_escapes_nothing(data: st.DataObject) -> None:
    root = Path(tempfile.mkdtemp(prefix="fa-tamper-"))
    try:
        _run(root, data.draw(tampering(root)))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(root: Path, edits: list[tuple[str, str, Any]]) -> None:
    (root / "outside").mkdir()
    (root / "outside" / "secret.txt").write_bytes(SECRET)
    marker = root / "outside" / "code-ran"
    folder = root / "upload"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    store_dir, target = root / "store", root / "target"
    catalog = Catalog(f"sqlite:///{root / 'catalog.db'}")
    stack = fa.Stack(store=fa.ArtifactStore(store_dir), catalog=catalog)
    payload = pickle.dumps(Payload(marker))
    originals = {
        "blob": fa.materialize(payload, "blob", "r1", "s", "demo", stack=stack),
        "report": fa.materialize({"ok": True}, "report", "r1", "s", "demo", stack=stack),
        "folder": fa.upload_file(folder, "folder", "demo", run_id="r1", step_name="s", stack=stack),
    }
    before = {name: art.manifest.to_dict() for name, art in originals.items()}
    for name, field, value in edits:
        path = store_dir / (originals[name].key + MANIFEST_SUFFIX)
        body = json.loads(path.read_bytes())
        if field == "member" and body["files"]:
            first = sorted(body["files"])[0]
            body["files"][str(value)] = body["files"].pop(first)
        else:
            body[field] = value
        path.write_text(json.dumps(body))
    outside_before = snapshot(root, (store_dir, target))

    # the catalog that recorded them: rows rule, the edited manifests change nothing
    for name, art in originals.items():
        for ref in (art.uri, art.key):
            loaded = fa.get_artifact(ref, stack=stack)
            assert loaded.manifest.to_dict() == before[name]
        assert attempt(lambda a=art: fa.load(a.uri, stack=stack)) is not None
    assert fa.load(originals["blob"].uri, stack=stack) == payload

    # a catalog rebuilt from the store: only checked manifests get rows
    rebuilt = fa.Stack(store=stack.store, catalog=Catalog(f"sqlite:///{root / 'catalog2.db'}"))
    attempt(lambda: fa.reindex(stack=rebuilt))
    _exercise(rebuilt, root, target, payload)
    _exercise(stack, root, target, payload)
    for art in originals.values():  # and the bare store on the manifests themselves
        attempt(lambda a=art: stack.store.load(a.key))
        attempt(lambda a=art: stack.store.delete(a.key))

    assert not marker.exists(), "code from the store ran"
    assert snapshot(root, (store_dir, target)) == outside_before
    rebuilt.catalog.close()
    catalog.close()


def _exercise(stack: fa.Stack, root: Path, target: Path, payload: bytes) -> None:
    arts = list(fa.list_artifacts(stack=stack))
    stack_file = root / "catalog-stack.json"  # beside the catalogs, left out of snapshots
    stack_file.write_text(
        json.dumps(
            {"artifact_store": {"url": stack.store.root}, "catalog": {"url": stack.catalog.url}}
        )
    )
    app = create_app(stack, allow_delete=True)
    # a stream failing its checksum is cut, as it must be: not raised into the test
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        for art in arts:
            loaded = attempt(lambda a=art: fa.load(a.id, stack=stack))
            assert not isinstance(loaded, bytes) or SECRET not in loaded
            with contextlib.suppress(fa.FlowArtifactsError):
                with art.as_local_file() as local:
                    assert not local.is_file() or SECRET not in local.read_bytes()
            got = CliRunner().invoke(
                cli, ["--stack", str(stack_file), "get", art.id, "-o", str(target), "--force"]
            )
            assert not isinstance(got.exception, Exception) or isinstance(
                got.exception, SystemExit
            ), got.exception
            piped = CliRunner().invoke(cli, ["--stack", str(stack_file), "get", art.id, "-o", "-"])
            assert SECRET not in piped.stdout_bytes
            ref = quote(art.id, safe="")
            for url in (f"/api/artifacts/{ref}", f"/api/preview/{ref}", f"/api/content/{ref}"):
                with contextlib.suppress(RuntimeError):  # the cut stream, seen by the client
                    assert SECRET not in client.get(url).content
        for art in arts:
            client.delete(f"/api/artifacts/{quote(art.id, safe='')}")
            attempt(lambda a=art: fa.delete(a.id, force=True, stack=stack))
    for path in target.rglob("*") if target.exists() else ():
        assert not path.is_file() or SECRET not in path.read_bytes()
