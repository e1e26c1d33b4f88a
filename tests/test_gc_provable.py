"""gc removes only provable garbage: what dead writes left, on a store known by its identity.

Issue 11, items 1, 2 and 4, each as a user (or a careless or hostile one) would meet it: a moved
project folder, another spelling of the store URL, a second or lost catalog, folder artifacts
holding files named like temporaries or manifests, slow and killed writers, S3 multipart uploads
left by a killed writer, and names with glob characters.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.maintenance import gc, verify
from flow_artifacts.manifest import MANIFEST_SUFFIX
from flow_artifacts.materializers.base import ArtifactKind, Materializer
from flow_artifacts.moments import parse_moment
from flow_artifacts.stores.leases import PendingWrite
from flow_artifacts.stores.paths import IDENTITY, JOURNAL_DIR, RESERVED
from tests.core_plugins import RegisterPlugin, host_with
from tests.gc_support import expire_leases, kill_when
from tests.test_store_support import Target, make_stack_fixture, open_target  # noqa: F401

from . import gc_worker


@pytest.fixture(params=["local", "memory", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    return open_target(request.param, request, tmp_path)


def artifact_files(store: fa.ArtifactStore) -> dict[str, bytes]:
    """Every file in the store's artifact space (its own records left out), with its bytes."""
    found = store.fs.find(store.root) if store.fs.exists(store.root) else []
    files = {p[len(store.root) :].lstrip("/"): p for p in found}
    return {r: store.fs.cat_file(p) for r, p in files.items() if not r.startswith(RESERVED)}


def journal(store: fa.ArtifactStore) -> list[str]:
    """The store's journal records, which gc always keeps."""
    return [rel for rel in store.inventory() if rel.startswith(JOURNAL_DIR + "/")]


def own_records(store: fa.ArtifactStore) -> list[str]:
    """The store's own records but its journal: identity, pending writes, temporaries."""
    return sorted(
        rel
        for rel in store.inventory()
        if rel.startswith(RESERVED + "/") and not rel.startswith(JOURNAL_DIR + "/")
    )


def owned(stack: fa.Stack) -> set[str]:
    paths = set()
    for art in fa.list_artifacts(stack=stack):
        paths.add(art.key + MANIFEST_SUFFIX)
        if art.manifest.directory:
            paths.update(f"{art.manifest.data_path}/{rel}" for rel in art.manifest.files)
        else:
            paths.add(art.manifest.data_path)
    return paths


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flow_artifacts", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def sample_tree(root: Path) -> Path:
    """A folder whose files look like the store's temporaries and manifests: all are data."""
    (root / ".tmp-dir").mkdir(parents=True)
    (root / ".tmp-x").write_text("looks like an old temporary")
    (root / "x.artifact.json").write_text('{"looks": "like a manifest"}')
    (root / ".tmp-dir" / "inner.bin").write_bytes(b"inside a temp-looking folder")
    (root / "plain.txt").write_text("plain")
    return root


# --- 1. store identity ---------------------------------------------------------------------------


def test_moving_the_project_folder_keeps_ls_load_verify_and_gc(tmp_path: Path) -> None:
    before = tmp_path / "projA"
    before.mkdir()
    stack = fa.Stack.local(before / ".flow_artifacts")
    raw = fa.materialize({"rows": 3}, "raw", "r1", "ingest", "demo", stack=stack)
    fa.upload_file(sample_tree(tmp_path / "tree"), "tree", "demo", inputs=[raw], stack=stack)
    stack.close()
    files = artifact_files(stack.store)

    after = tmp_path / "projB"
    shutil.move(before, after)
    collected = cli(after, "gc")
    assert collected.returncode == 0, collected.stderr
    assert "removed 0 path(s)" in collected.stderr
    listed = json.loads(cli(after, "ls", "--json").stdout)["items"]
    assert {item["uri"] for item in listed} == {"store://demo/raw@1", "store://demo/tree@1"}
    checked = cli(after, "verify", "--all")
    assert checked.returncode == 0 and "2 ok, 0 damaged" in checked.stderr
    moved = fa.Stack.local(after / ".flow_artifacts")
    assert fa.load("store://demo/raw", stack=moved) == {"rows": 3}
    assert artifact_files(moved.store) == files
    moved.close()


def test_another_spelling_of_a_local_store_is_the_same_store(tmp_path: Path, catalog_url) -> None:
    root = tmp_path / "store"
    catalog = Catalog(catalog_url)
    stack = fa.Stack(store=fa.ArtifactStore(root), catalog=catalog)
    art = fa.materialize({"v": 1}, "kept", "r1", "s", "demo", stack=stack)
    files = artifact_files(stack.store)

    for spelling in (f"{root}/", f"file://{root}", f"file://{root}/", f"{tmp_path}/./store"):
        other = fa.Stack(store=fa.ArtifactStore(spelling), catalog=catalog)
        assert other.store.identity == stack.store.identity
        report = gc(stack=other)
        assert report.paths == [] and report.unaccounted == []
        assert artifact_files(other.store) == files
    elsewhere = fa.ArtifactStore(tmp_path / "elsewhere")
    assert elsewhere.identity != stack.store.identity
    assert fa.load(art, stack=stack) == {"v": 1}
    catalog.close()


def test_another_spelling_of_a_bucket_is_the_same_store(s3_bucket_url, s3_server, tmp_path) -> None:
    url, options = s3_bucket_url
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    stack = fa.Stack(store=fa.ArtifactStore(url, **options), catalog=catalog)
    fa.materialize({"v": 1}, "kept", "r1", "s", "demo", stack=stack)
    files = artifact_files(stack.store)

    alias = {**options, "endpoint_url": s3_server.endpoint_url.replace("127.0.0.1", "localhost")}
    for spelling, opts in ((f"{url}/", options), (url, alias)):
        other = fa.Stack(store=fa.ArtifactStore(spelling, **opts), catalog=catalog)
        assert other.store.identity == stack.store.identity
        assert gc(stack=other).paths == []
        assert artifact_files(other.store) == files
    catalog.close()


def test_a_damaged_identity_record_is_refused_clearly(tmp_path: Path) -> None:
    store = fa.ArtifactStore(tmp_path / "store")
    store.materialize({"v": 1}, "a", "r1", "s")
    (tmp_path / "store" / IDENTITY).write_text('{"format": "flow-artifacts-store", "id": "x"}')
    with pytest.raises(fa.StoreError, match="identity record .* is damaged") as caught:
        fa.ArtifactStore(tmp_path / "store").materialize({"v": 2}, "b", "r1", "s")
    assert str(tmp_path) not in str(caught.value)


def test_two_first_users_agree_on_the_identity(tmp_path: Path) -> None:
    stores = [fa.ArtifactStore(tmp_path / "store") for _ in range(8)]
    seen: list[str] = []
    threads = [threading.Thread(target=lambda s=s: seen.append(s.identity)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and len(set(seen)) == 1


# --- 2. gc removes only provable garbage ---------------------------------------------------------


def test_a_second_catalog_over_one_store_makes_gc_refuse_until_forced(
    target: Target, make_stack, catalog_url_factory
) -> None:
    mine = make_stack(target, catalog_url_factory())
    theirs = make_stack(target, catalog_url_factory())
    kept = fa.materialize({"v": 1}, "mine", "r1", "s", "demo", stack=mine)
    foreign = fa.materialize({"v": 2}, "theirs", "r1", "s", "demo", stack=theirs)
    files = artifact_files(mine.store)

    for dry_run in (True, False):
        with pytest.raises(fa.UnknownArtifacts, match="reindex") as refused:
            gc(dry_run=dry_run, stack=mine)
        assert foreign.key + MANIFEST_SUFFIX in str(refused.value)
    forced = gc(force=True, stack=mine)
    assert forced.paths == [] and forced.unknown_manifests == [foreign.key + MANIFEST_SUFFIX]
    assert artifact_files(mine.store) == files
    assert fa.load(kept, stack=mine) == {"v": 1} and fa.load(foreign, stack=theirs) == {"v": 2}


def test_a_lost_catalog_makes_the_gc_command_refuse_and_reindex_fixes_it(tmp_path: Path) -> None:
    stack = fa.Stack.local(tmp_path / ".flow_artifacts")
    fa.materialize({"v": 1}, "kept", "r1", "s", "demo", stack=stack)
    stack.close()
    for path in (tmp_path / ".flow_artifacts").glob("catalog.db*"):
        path.unlink()

    refused = cli(tmp_path, "gc")
    assert refused.returncode == 1
    assert "reindex" in refused.stderr and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr and str(tmp_path) not in refused.stderr
    forced = cli(tmp_path, "gc", "--force")
    assert forced.returncode == 0 and "removed 0 path(s)" in forced.stderr
    assert cli(tmp_path, "reindex").returncode == 0
    assert cli(tmp_path, "gc").returncode == 0
    assert cli(tmp_path, "verify", "--all").returncode == 0


def test_folder_artifact_files_named_like_temporaries_or_manifests_survive_gc(
    target: Target, make_stack, tmp_path: Path
) -> None:
    stack = make_stack(target)
    tree = fa.upload_file(sample_tree(tmp_path / "tree"), "tree", "demo", stack=stack)
    assert set(tree.manifest.files) == {
        ".tmp-x", "x.artifact.json", ".tmp-dir/inner.bin", "plain.txt",
    }  # fmt: skip
    files = artifact_files(stack.store)

    report = gc(stack=stack)
    assert report.paths == [] and report.unaccounted == []
    assert artifact_files(stack.store) == files
    assert [r.ok for r in verify(stack=stack)] == [True]


class SlowFolder(Materializer):
    """Writes one file, waits until the test lets it go, then writes another."""

    id = "tests.slow-folder"
    handles = ()
    kind = ArtifactKind.FILE
    directory = True
    started = threading.Event()
    go = threading.Event()

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        fs.makedirs(path, exist_ok=True)
        with fs.open(f"{path}/part-0.txt", "wb") as f:
            f.write(b"first")
        self.started.set()
        assert self.go.wait(120)
        with fs.open(f"{path}/part-1.txt", "wb") as f:
            f.write(b"second")
        return {}

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        return sorted(fs.find(path))


def renewed(store: fa.ArtifactStore) -> datetime:
    (path,) = store.fs.find(f"{store.root}/{RESERVED}/writes")
    return parse_moment(json.loads(store.fs.cat_file(path))["renewed"])


def test_a_slow_folder_upload_renews_its_lease_and_survives_gc(target: Target, make_stack):
    SlowFolder.started.clear()
    SlowFolder.go.clear()
    lease = 2.0
    plugins = host_with(slow=RegisterPlugin(SlowFolder))
    stack = make_stack(target, lease_seconds=lease, plugins=plugins)
    results: list[Any] = []

    def write() -> None:
        obj, mid = b"x", SlowFolder.id
        results.append(
            fa.materialize(obj, "slow", "r1", "s", "demo", materializer=mid, stack=stack)
        )

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert SlowFolder.started.wait(60)
        first = renewed(stack.store)
        while renewed(stack.store) < first + timedelta(seconds=lease * 1.5):
            time.sleep(0.1)  # until the first lease would have run out, had it not been renewed
        written = [rel for rel in stack.store.inventory() if rel.endswith("part-0.txt")]
        report = gc(stack=stack)
        assert report.paths == [] and report.unaccounted == []
        assert written and set(written) <= set(stack.store.inventory())
    finally:
        SlowFolder.go.set()
        writer.join(60)
    (art,) = results
    assert set(art.manifest.files) == {"part-0.txt", "part-1.txt"}
    assert [r.ok for r in verify(stack=stack)] == [True]
    assert own_records(stack.store) == [IDENTITY]


def test_a_writer_cut_off_from_its_lease_refuses_to_publish() -> None:
    store = fa.ArtifactStore(f"memory://lease-{uuid.uuid4().hex}")
    write = PendingWrite(store.fs, store.root, "demo/r1/s/x", "demo/r1/s/x.json", 0.2)
    write.start()
    write.end(release=False)  # renewals stop, as when the store cannot be reached
    time.sleep(0.15)  # more than half the lease
    with pytest.raises(fa.StoreError, match="lost its lease"):
        write.check()


def kill_mid_write(mode: str, target: Target, catalog_url: str) -> None:
    """Run gc_worker in `mode` until it blocks mid-write, then SIGKILL it."""
    _, url, options = target
    config = {"store": url, "options": options, "catalog": catalog_url, "mode": mode}
    kill_when(
        [sys.executable, gc_worker.__file__, json.dumps(config)],
        lambda line: line.strip() == "phase:blocked",
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


@pytest.fixture(params=["local", "s3"])
def shared_target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """Stores another process can write to (a memory store lives in one process)."""
    return open_target(request.param, request, tmp_path)


def test_a_killed_writer_leaves_garbage_that_gc_removes_once_its_lease_expired(
    shared_target: Target, make_stack, tmp_path: Path
) -> None:
    catalog_url = f"sqlite:///{tmp_path / 'shared.db'}"
    stack = make_stack(shared_target, catalog_url)
    kept = fa.upload_file(sample_tree(tmp_path / "tree"), "tree", "demo", stack=stack)
    committed = artifact_files(stack.store)
    kill_mid_write("folder", shared_target, catalog_url)
    left = set(stack.store.inventory()) - set(committed) - {IDENTITY} - set(journal(stack.store))
    assert [rel for rel in left if rel.endswith("part-0.txt")], left

    alive = gc(stack=stack)  # the lease has not run out: the writer may only be slow
    assert alive.paths == [] and set(stack.store.inventory()) >= left

    assert expire_leases(stack.store) == 1
    dry = gc(dry_run=True, stack=stack)
    assert set(dry.paths) == left and set(stack.store.inventory()) >= left
    assert set(gc(stack=stack).paths) == left
    assert artifact_files(stack.store) == committed
    assert own_records(stack.store) == [IDENTITY]
    assert fa.load(kept, stack=stack).is_dir()


def test_a_dead_folder_upload_does_not_block_its_key(
    shared_target: Target, make_stack, tmp_path: Path
) -> None:
    catalog_url = f"sqlite:///{tmp_path / 'shared.db'}"
    stack = make_stack(shared_target, catalog_url)
    kill_mid_write("folder", shared_target, catalog_url)
    tree = sample_tree(tmp_path / "tree")

    def write_again() -> fa.Artifact:
        return fa.upload_file(tree, "killed", "demo", run_id="r1", step_name="s", stack=stack)

    if shared_target[0] == "s3":  # its files sit at the data path, and it may only be slow:
        again = write_again()  # so the write takes the next versioned path instead of waiting
        assert again.key == "demo/r1/s/killed.v1" and again.version == 1
        expire_leases(stack.store)  # now it is provably dead: gc may take its leftovers
    else:
        again = write_again()  # a dead write's leftovers on a renaming store: the key is free
        assert again.key == "demo/r1/s/killed"
    assert set(again.manifest.files) == {
        ".tmp-x", "x.artifact.json", ".tmp-dir/inner.bin", "plain.txt",
    }  # fmt: skip
    assert [r.ok for r in verify(stack=stack)] == [True]
    expire_leases(stack.store)
    assert gc(stack=stack).unaccounted == []
    assert set(artifact_files(stack.store)) == owned(stack)


def test_an_interrupted_rm_is_finished_by_gc_once_its_lease_expired(
    shared_target: Target, make_stack, tmp_path: Path
) -> None:
    catalog_url = f"sqlite:///{tmp_path / 'shared.db'}"
    stack = make_stack(shared_target, catalog_url)
    kept = fa.materialize({"v": 0}, "kept", "r1", "s", "demo", stack=stack)
    kill_mid_write("rm", shared_target, catalog_url)
    assert [a.name for a in fa.list_artifacts(stack=stack)] == ["kept"]
    doomed = {"demo/r1/s/doomed" + MANIFEST_SUFFIX, "demo/r1/s/doomed.json"}
    assert doomed <= set(artifact_files(stack.store))

    assert gc(stack=stack).paths == []  # no refusal: the deleter may still be finishing
    expire_leases(stack.store)
    assert doomed <= set(gc(stack=stack).paths)
    assert set(artifact_files(stack.store)) == owned(stack)
    assert fa.load(kept, stack=stack) == {"v": 0}


def test_a_killed_multipart_upload_is_aborted_by_gc_once_its_writer_is_dead(
    s3_bucket_url, make_stack, tmp_path: Path
) -> None:
    target: Target = ("s3", *s3_bucket_url)
    catalog_url = f"sqlite:///{tmp_path / 'shared.db'}"
    stack = make_stack(target, catalog_url)
    kill_mid_write("multipart", target, catalog_url)
    uploads = [rel for rel, _ in stack.store.uploads()]
    assert uploads == ["demo/r1/s/killed.bin"]

    assert gc(stack=stack).uploads == []  # its writer may still be alive
    assert [rel for rel, _ in stack.store.uploads()] == uploads
    expire_leases(stack.store)
    assert gc(dry_run=True, stack=stack).uploads == uploads
    assert gc(stack=stack).uploads == uploads
    assert stack.store.uploads() == []
    assert artifact_files(stack.store) == {}


def test_damaged_or_forged_write_records_never_cost_an_owned_file(
    target: Target, make_stack
) -> None:
    stack = make_stack(target)
    store = stack.store
    kept = fa.materialize({"v": 1}, "kept", "r1", "s", "demo", stack=stack)
    for folder in ("writes", f"tmp/{'a' * 32}"):
        store.fs.makedirs(f"{store.root}/{RESERVED}/{folder}", exist_ok=True)
    store.fs.pipe_file(f"{store.root}/{RESERVED}/writes/{'a' * 32}.json", b"not json")
    store.fs.pipe_file(f"{store.root}/{RESERVED}/tmp/{'a' * 32}/data.bin", b"in flight?")
    store.fs.pipe_file(f"{store.root}/{RESERVED}/tmp/{'a' * 32}-data.bin", b"in flight?")
    forged = {  # claims the committed artifact's key, dead for a day
        "id": "b" * 32, "key": kept.key, "data_path": kept.manifest.data_path,
        "renewed": "2020-01-01T00:00:00+00:00", "lease_seconds": 1, "host": "x", "pid": 1,
    }  # fmt: skip
    store.fs.pipe_file(
        f"{store.root}/{RESERVED}/writes/{'b' * 32}.json", json.dumps(forged).encode()
    )
    wide = {**forged, "id": "c" * 32, "key": "demo", "data_path": "demo/r1"}  # not its key's
    store.fs.pipe_file(f"{store.root}/{RESERVED}/writes/{'c' * 32}.json", json.dumps(wide).encode())
    files = artifact_files(store)

    report = gc(stack=stack)
    assert report.paths == [f"{RESERVED}/writes/{'b' * 32}.json"]
    assert sorted(report.unreadable) == [
        f"{RESERVED}/writes/{'a' * 32}.json", f"{RESERVED}/writes/{'c' * 32}.json",
    ]  # fmt: skip
    assert artifact_files(store) == files
    assert store.fs.exists(f"{store.root}/{RESERVED}/tmp/{'a' * 32}/data.bin")
    assert store.fs.exists(f"{store.root}/{RESERVED}/tmp/{'a' * 32}-data.bin")
    assert fa.load(kept, stack=stack) == {"v": 1}


def test_the_file_temporaries_of_a_dead_write_go_and_a_live_writes_stay(
    target: Target, make_stack
) -> None:
    stack = make_stack(target)
    store = stack.store
    live = PendingWrite(store.fs, store.root, "demo/r1/s/live", "demo/r1/s/live.json", 60)
    live.start()
    try:
        dead = PendingWrite(store.fs, store.root, "demo/r1/s/dead", "demo/r1/s/dead.json", 60)
        dead.start()
        dead.end(release=False)  # as if killed: its record stays until it expires
        temps = {}
        for write in (live, dead):
            for name in ("data.json", "manifest.json"):
                path = write.temp_file(name)
                store.fs.pipe_file(path, b"{}")
                temps[path[len(store.root) + 1 :]] = write
        assert gc(stack=stack).paths == []  # neither lease ran out: both may only be slow
        record = f"{store.root}/{RESERVED}/writes/{dead.id}.json"
        aged = json.loads(store.fs.cat_file(record))
        aged["renewed"] = "2020-01-01T00:00:00+00:00"  # its writer is long gone
        store.fs.pipe_file(record, json.dumps(aged).encode())
        removed = gc(stack=stack).paths
        assert sorted(removed) == sorted(
            [rel for rel, write in temps.items() if write is dead]
            + [f"{RESERVED}/writes/{dead.id}.json"]
        )
        assert all(store.fs.exists(f"{store.root}/{rel}") for rel, w in temps.items() if w is live)
    finally:
        live.end(release=True)


# --- 4. deletes are exact ------------------------------------------------------------------------


def legacy_artifact(stack: fa.Stack, name: str, value: Any) -> fa.Artifact:
    """An artifact named as older releases allowed (glob characters), written as they wrote it."""
    store = stack.store
    key = f"demo/r1/s/{name}"
    manifest = store.write_data(
        value,
        stack.plugins.materializers.choose,
        key=key,
        project="demo",
        name=name,
        run_id="r1",
        step="s",
    )
    stack.catalog.record(
        manifest, store_url=store.url, store_id=store.identity, publish=store.write_manifest
    )
    store.finish_write(manifest)
    return fa.get_artifact(manifest.id, stack=stack)


@pytest.mark.parametrize("name", ["report[1]", "report?", "repor*"])
def test_deleting_a_legacy_name_with_glob_characters_deletes_only_it(
    target: Target, make_stack, name: str
) -> None:
    stack = make_stack(target)
    sibling = fa.materialize({"keep": True}, "report1", "r1", "s", "demo", stack=stack)
    folder = fa.materialize({"keep": "too"}, "reportx", "r1", "s", "demo", stack=stack)
    legacy = legacy_artifact(stack, name, {"legacy": True})
    assert fa.load(f"store://demo/{name}", stack=stack) == {"legacy": True}

    fa.delete(f"store://demo/{name}", stack=stack)
    assert fa.load(sibling, stack=stack) == {"keep": True}
    assert fa.load(folder, stack=stack) == {"keep": "too"}
    assert set(artifact_files(stack.store)) == owned(stack)
    assert legacy.key + MANIFEST_SUFFIX not in artifact_files(stack.store)
    assert all(r.ok for r in verify(stack=stack))


@pytest.mark.parametrize("field", ["name", "run_id", "step_name", "project"])
@pytest.mark.parametrize("bad", ["a[1]", "*", "what?", "x]"])
def test_glob_characters_are_refused_in_new_names(tmp_path: Path, field: str, bad: str) -> None:
    store = fa.ArtifactStore(tmp_path / "store")
    names = {"name": "n", "run_id": "r1", "step_name": "s", "project": "demo", field: bad}
    with pytest.raises(fa.InvalidName, match="patterns"):
        store.materialize({"v": 1}, **names)
    with pytest.raises(fa.InvalidName, match="patterns"):
        store.save({"v": 1}, f"demo/{bad}/n")
    assert artifact_files(store) == {}


@pytest.mark.parametrize("options", [{"run_id": "r*"}, {"project": "p[1]"}, {"run_id": "?"}])
def test_a_run_with_glob_characters_is_refused_before_it_starts(options: dict[str, str]) -> None:
    with pytest.raises(fa.InvalidName, match="patterns"):
        fa.run(**options)
    with pytest.raises(fa.InvalidName, match="patterns"):
        fa.step(name="s*")(lambda: None)
