"""The small-artifact load path (issue 18) is as safe as the ordinary one: the catalog lookup run
on SQLite's driver connection returns what SQLAlchemy returns and sees every commit, the symlink
guard resolves paths as `os.path.realpath` does, and the one-open read refuses changed bytes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog, lookups
from flow_artifacts.catalog.driver_reads import IDLE_MAX
from flow_artifacts.errors import CatalogError, InvalidName
from flow_artifacts.naming import validate_name
from flow_artifacts.refs import parse_ref
from flow_artifacts.stores.store import ArtifactStore
from flow_artifacts.stores.store_reads import real_path
from flow_artifacts.stores.transfer import read_local_head

REPORT = {"accuracy": 0.93, "notes": "x" * 800}


@pytest.fixture
def local(tmp_path: Path):
    stack = fa.Stack.local(tmp_path / "fa", project="demo")
    yield stack
    stack.close()


def catalog_file(stack: fa.Stack) -> str:
    return stack.catalog.engine.url.database


def test_every_kind_of_reference_reads_what_sqlalchemy_reads(local):
    first = fa.materialize(REPORT, "report", "r1", "eval", stack=local)
    fa.materialize(REPORT, "report", "r2", "eval", labels={"team": "a"}, stack=local)
    first.tag("prod")
    fa.update("store://demo/report", labels={"team": "b"}, description="v2", stack=local)
    refs = [
        first.urn, first.id, "store://demo/report@1", "store://demo/report:prod",
        "store://demo/report", "store://demo/report:latest",
    ]  # fmt: skip
    for ref in refs:
        fast = local.catalog.get(ref)
        with local.catalog.engine.connect() as conn:  # the ordinary path, through SQLAlchemy
            ordinary = lookups.artifact(conn, parse_ref(ref))
        assert ordinary is not None and fast.to_dict() == ordinary.to_dict()
    latest = local.catalog.get("store://demo/report")
    assert (latest.version, latest.labels, latest.description) == (2, {"team": "b"}, "v2")
    assert latest.updated is not None and local.catalog.get(first.id).version == 1
    with pytest.raises(fa.ArtifactNotFound, match="versions: 1, 2"):
        local.catalog.get("store://demo/report@3")


def test_a_commit_by_another_catalog_is_seen_by_the_next_lookup(local):
    fa.materialize(REPORT, "report", "r1", "eval", stack=local)
    assert fa.load("store://demo/report", stack=local) == REPORT
    other = fa.Stack(
        store=ArtifactStore(local.store.root),
        catalog=Catalog(local.catalog.url),
        project="demo",
    )
    try:
        fa.materialize({"v": 2}, "report", "r2", "eval", stack=other)
        assert fa.load("store://demo/report", stack=local) == {"v": 2}
        fa.delete("store://demo/report@2", stack=other)
        assert fa.load("store://demo/report", stack=local) == REPORT
    finally:
        other.close()


def test_lookups_from_many_threads_keep_few_connections_and_close_them_all(tmp_path):
    stack = fa.Stack.local(tmp_path / "fa", project="demo")
    uris = [fa.materialize({"n": i}, f"r{i}", "run", "eval", stack=stack).uri for i in range(8)]
    wrong: list[object] = []

    def work() -> None:
        for round_ in range(40):
            i = round_ % len(uris)
            if fa.load(uris[i], stack=stack) != {"n": i}:
                wrong.append(i)

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    pool = stack.catalog.engine.pool
    # the idle read connections, and the write connection kept since the writes above
    assert pool.checkedout() <= IDLE_MAX + 1  # type: ignore[attr-defined]
    stack.close()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_database_error_is_raised_as_sqlalchemy_raises_it(local):
    art = fa.materialize(REPORT, "report", "r1", "eval", stack=local)
    fa.load(art.uri, stack=local)
    with sqlite3.connect(catalog_file(local)) as db:
        db.execute("ALTER TABLE fa_artifacts RENAME TO fa_elsewhere")
    with pytest.raises(OperationalError, match="no such table"):
        local.catalog.get(art.uri)
    with sqlite3.connect(catalog_file(local)) as db:
        db.execute("ALTER TABLE fa_elsewhere RENAME TO fa_artifacts")
    assert fa.load(art.uri, stack=local) == REPORT


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_reads_on_its_own_connections(local):
    art = fa.materialize(REPORT, "report", "r1", "eval", stack=local)
    assert fa.load(art.uri, stack=local) == REPORT  # the parent keeps a connection
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        try:
            driver = local.catalog._driver
            ok = fa.load(art.uri, stack=local) == REPORT
            parents = {id(pair) for pair in driver._inherited}
            ok = ok and bool(parents) and not parents & {id(pair) for pair in driver._idle}
            os._exit(0 if ok else 3)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert fa.load(art.uri, stack=local) == REPORT


def test_an_in_memory_catalog_reads_through_sqlalchemy(local):
    stack = fa.Stack(store=local.store, catalog=Catalog("sqlite://"), project="demo")
    try:
        art = fa.materialize(REPORT, "report", "r1", "eval", stack=stack)
        assert stack.catalog._driver is None
        assert fa.load("store://demo/report", stack=stack) == REPORT == art.load()
    finally:
        stack.close()


def test_a_row_of_an_older_release_or_an_edited_one_is_read_by_the_dataclass(local):
    art = fa.materialize(REPORT, "report", "r1", "eval", stack=local)
    body = json.loads(json.dumps(art.manifest.to_dict()))
    del body["owner"]  # a field added after the row was written: its default
    with sqlite3.connect(catalog_file(local)) as db:
        db.execute("UPDATE fa_artifacts SET manifest = ?", (json.dumps(body),))
    loaded = fa.get_artifact(art.uri, stack=local)
    assert loaded.owner == {} and loaded.load() == REPORT
    body["planted"] = "x"  # a field no release knows: unreadable, never an attribute
    with sqlite3.connect(catalog_file(local)) as db:
        db.execute("UPDATE fa_artifacts SET manifest = ?", (json.dumps(body),))
    with pytest.raises(CatalogError, match="unreadable"):
        fa.load(art.uri, stack=local)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "file.json").write_text("{}")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "file.json").write_text("{}")
    (root / "inside").symlink_to(root / "a")
    (root / "a" / "b" / "link.json").symlink_to("file.json")
    (root / "out").symlink_to(tmp_path / "outside")
    (root / "a" / "b" / "out.json").symlink_to(tmp_path / "outside" / "file.json")
    (root / "loop1").symlink_to(root / "loop2")
    (root / "loop2").symlink_to(root / "loop1")
    (root / "a" / "b" / "dangling").symlink_to(root / "nothing")
    return root


@pytest.mark.parametrize(
    "rel",
    [
        "a/b/file.json", "a/b/missing.json", "a/missing/file.json", "inside/b/file.json",
        "a/b/link.json", "out/file.json", "a/b/out.json", "loop1/file.json", "a/b/dangling",
        "inside/../a/b/file.json", "a/b/file.json/x", "a/b/", "a/b/.", "a/b/..", "a",
    ],
)  # fmt: skip
def test_the_guard_resolves_paths_as_realpath_does(tree: Path, rel: str, monkeypatch):
    path = f"{tree}/{rel}"
    assert real_path(path) == os.path.realpath(path)
    monkeypatch.chdir(tree)
    assert real_path(rel) == os.path.realpath(rel)


def read_through(local: fa.Stack, art: fa.Artifact) -> object:
    return fa.load(art.uri, stack=local)


def test_a_folder_swapped_for_a_link_after_a_first_load_is_refused(local, tmp_path):
    art = fa.materialize(REPORT, "report", "r1", "eval", stack=local)
    assert read_through(local, art) == REPORT
    folder = Path(local.store.full_path(art.key)).parent
    elsewhere = tmp_path / "elsewhere"
    shutil.move(folder, elsewhere)  # the same bytes, now outside the store
    folder.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(fa.IntegrityError, match="outside the store") as caught:
        read_through(local, art)
    assert str(tmp_path) not in str(caught.value)
    with pytest.raises(fa.IntegrityError, match="outside the store"):
        art.verify()
    folder.unlink()  # a project folder leading out is refused the same way
    shutil.move(elsewhere, folder)
    project = Path(local.store.full_path("demo"))
    shutil.move(project, tmp_path / "project")
    project.symlink_to(tmp_path / "project", target_is_directory=True)
    with pytest.raises(fa.IntegrityError, match="outside the store"):
        read_through(local, art)


def test_bytes_swapped_for_a_link_after_a_first_load_are_refused(local, tmp_path):
    art = fa.materialize(REPORT, "report", "r1", "eval", stack=local)
    assert read_through(local, art) == REPORT
    data = Path(local.store.full_path(art.manifest.data_path))
    outside = tmp_path / "copy.json"
    shutil.copyfile(data, outside)
    data.unlink()
    data.symlink_to(outside)
    with pytest.raises(fa.IntegrityError, match="outside the store"):
        read_through(local, art)


def test_links_that_stay_inside_the_store_are_followed(local):
    art = fa.materialize(REPORT, "report", "r1", "eval", stack=local)
    data = Path(local.store.full_path(art.manifest.data_path))
    folder = data.parent
    moved = folder.with_name("moved")
    folder.rename(moved)
    folder.symlink_to(moved.name, target_is_directory=True)  # a folder link inside the store
    assert read_through(local, art) == REPORT
    (moved / "kept.json").write_bytes(data.read_bytes())
    data.unlink()
    data.symlink_to("kept.json")  # a file link inside the store
    assert read_through(local, art) == REPORT


@pytest.mark.parametrize("change", ["grown", "shrunk", "replaced", "emptied"])
def test_bytes_changed_in_size_are_refused(local, change):
    art = fa.materialize(REPORT, "report", "r1", "eval", stack=local)
    data = Path(local.store.full_path(art.manifest.data_path))
    body = data.read_bytes()
    data.write_bytes(
        {"grown": body + b" ", "shrunk": body[:-1], "replaced": b"{}" * 10_000, "emptied": b""}[
            change
        ]
    )
    with pytest.raises(fa.IntegrityError, match="corrupted"):
        read_through(local, art)


def test_a_missing_file_is_reported_as_missing(local):
    art = fa.materialize(REPORT, "report", "r1", "eval", stack=local)
    Path(local.store.full_path(art.manifest.data_path)).unlink()
    with pytest.raises(fa.FlowArtifactsError) as caught:
        read_through(local, art)
    assert "missing" in str(caught.value).lower() or "no such" in str(caught.value).lower()


@pytest.mark.parametrize(
    "name", ["ok", "ok-name_1.v2", "-dash", "_under", "a" * 200, "9"]
)  # fmt: skip
def test_plain_names_are_accepted(name):
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("a" * 201, "longer than"), ("a..b", "'..'"), (".hidden", "starts with '.'"),
        ("CON", "device name"), ("nul.json", "device name"), ("Com1.tar.gz", "device name"),
        ("", "empty"), (" a", "white space"), ("a/b", "slash"), ("ｆｕｌｌ", "look like others"),
        ("a\u200bb", "invisible"), ("é" * 101, "longer than"),
    ],
)  # fmt: skip
def test_other_names_are_refused_saying_why(name, why):
    with pytest.raises(InvalidName, match=why):
        validate_name(name)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/fd is Linux's")
def test_the_guard_on_linux_asks_the_kernel(tree: Path, monkeypatch):
    calls: list[str] = []
    original = os.path.realpath
    monkeypatch.setattr(os.path, "realpath", lambda p: calls.append(p) or original(p))
    assert real_path(f"{tree}/inside/b/file.json") == f"{tree}/a/b/file.json"
    assert calls == []  # folder by descriptor, file by lstat: no walk of each component


def opened_paths(monkeypatch) -> list[str]:
    """Every path `os.open` is asked for from now on and, on Linux, where each one it opened
    leads (`/proc/self/fd`), after the path asked."""
    calls: list[str] = []
    original = os.open

    def recording(path, *args, **kwargs):
        calls.append(str(path))
        fd = original(path, *args, **kwargs)
        with contextlib.suppress(OSError):
            calls.append(os.readlink(f"/proc/self/fd/{fd}"))
        return fd

    monkeypatch.setattr(os, "open", recording)
    return calls


def test_a_link_to_bytes_outside_the_store_is_refused_without_opening_them(
    local, tmp_path, monkeypatch
):
    art = fa.materialize(REPORT, "report", "r1", "eval", stack=local)
    data = Path(local.store.full_path(art.manifest.data_path))
    outside = tmp_path / "copy.json"
    shutil.copyfile(data, outside)
    data.unlink()
    data.symlink_to(outside)
    opened = opened_paths(monkeypatch)
    with pytest.raises(fa.IntegrityError, match="outside the store"):
        read_through(local, art)
    assert not any(path.startswith(str(outside)) for path in opened)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/fd is Linux's")
def test_a_small_load_opens_its_file_once_and_reads_it_once(local, monkeypatch):
    art = fa.materialize(REPORT, "report", "r1", "eval", stack=local)
    assert read_through(local, art) == REPORT
    opened = opened_paths(monkeypatch)
    reads: list[int] = []
    original_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: reads.append(n) or original_read(fd, n))
    assert read_through(local, art) == REPORT
    data = local.store.full_path(art.manifest.data_path)
    assert set(opened) == {data} and len(opened) == 2  # no folder walk either
    assert reads == [art.manifest.size + 1]  # short at the opened size: its end, not asked again


def test_a_read_proven_inside_refuses_a_folder_leading_out(tree: Path):
    root = os.path.realpath(tree)
    assert read_local_head(f"{tree}/inside/b/file.json", 10, 10, root) == b"{}"
    assert read_local_head(f"{tree}/a/b/link.json", 10, 10, root) == b"{}"
    for rel in ("out/file.json", "a/b/out.json"):
        with pytest.raises(OSError, match="outside the store"):
            read_local_head(f"{tree}/{rel}", 10, 10, root)
    with pytest.raises(OSError):
        read_local_head(f"{tree}/loop1/file.json", 10, 10, root)


def test_a_record_is_read_whole_in_pieces_and_never_past_its_bound(tmp_path: Path):
    path = tmp_path / "record.json"
    path.write_bytes(b"0123456789")
    assert read_local_head(str(path), 100, 3) == b"0123456789"
    assert read_local_head(str(path), 4, 3) == b"0123"
    path.write_bytes(b"")
    assert read_local_head(str(path), 4, 3) == b""


def test_a_parsed_reference_is_shared_and_a_bad_one_still_raises_each_time():
    assert parse_ref("store://demo/report@2") is parse_ref("store://demo/report@2")
    assert parse_ref(" store://demo/report@2 ") == parse_ref("store://demo/report@2")
    for _ in range(2):
        with pytest.raises(InvalidName):
            parse_ref("store://demo/../x")

    class Text(str):
        pass

    assert parse_ref(Text("store://demo/report:best")).tag == "best"


@pytest.mark.parametrize(
    "name",
    [
        "con", "CON.json", "Con.tar.gz", "aux", "nul.x", "prn", "com1", "LPT9.a", "conin$",
        "conout$.x", "com", "com10", "console", "acon", "nul_", "lpt", "x.con", "c0n",
    ],
)  # fmt: skip
def test_the_plain_name_rule_refuses_exactly_the_device_names(name):
    from flow_artifacts.naming import _windows_device

    if _windows_device(name):
        with pytest.raises(InvalidName, match="device name"):
            validate_name(name)
    else:
        assert validate_name(name) == name


def test_a_parsed_reference_is_the_dataclass_it_always_was():
    parsed = parse_ref("store://demo/report@2")
    assert parsed == fa.refs.Ref(project="demo", name="report", version=2)
    assert hash(parsed) == hash(fa.refs.Ref(project="demo", name="report", version=2))
    assert str(parsed) == "store://demo/report@2" and parsed.id is None and parsed.tag is None
    with pytest.raises(AttributeError):
        parsed.name = "other"  # type: ignore[misc]


def test_a_row_is_read_again_by_every_load_and_hands_out_fresh_objects(local):
    art = fa.materialize(REPORT, "report", "r1", "eval", stack=local, labels={"team": "a"})
    first = fa.get_artifact(art.uri, stack=local).manifest
    first.metadata["keys"].append("planted")  # a caller changing what it was handed
    first.labels["team"] = "b"
    again = fa.get_artifact(art.uri, stack=local).manifest
    assert again.metadata == art.manifest.metadata and again.labels == {"team": "a"}
    with sqlite3.connect(catalog_file(local)) as db:  # another process rewrites the row
        db.execute("UPDATE fa_artifacts SET checksum = ?", ("blake3:" + "0" * 64,))
    with pytest.raises(fa.IntegrityError, match="corrupted"):
        fa.load(art.uri, stack=local)
    with sqlite3.connect(catalog_file(local)) as db:
        db.execute("DELETE FROM fa_artifacts")
    with pytest.raises(fa.ArtifactNotFound):
        fa.load(art.uri, stack=local)
