"""The small-save path (issue 18) is as safe as the ordinary one: on a file SQLite catalog the
statements of a save run on the driver connection, and they write the rows SQLAlchemy writes,
retry a busy database, and roll back with the rest of their transaction."""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog, database, recording
from flow_artifacts.catalog import schema as t
from flow_artifacts.catalog.database import write
from flow_artifacts.catalog.driver_writes import execute_many
from flow_artifacts.catalog.run_writes import Known, ensure_project
from flow_artifacts.manifest import MANIFEST_SUFFIX, Manifest
from tests.test_store_support import artifact_files


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Manifest]:
    """A manifest with labels, description, user metadata and format metadata to record."""
    stack = fa.Stack.local(tmp_path / "source", project="demo")
    art = fa.materialize(
        {"accuracy": 0.93, "notes": "é\u2028" * 50}, "report", "r1", "eval", stack=stack,
        labels={"team": "ml", "stage": "dev"}, description="the report",
        metadata={"nested": {"n": [1, 2.5, None, True]}, "text": "ü"},
    )  # fmt: skip
    yield art.manifest
    stack.close()


def recorded_by(catalog: Catalog, manifest: Manifest) -> Manifest:
    """`manifest` given a version and recorded on `catalog`, with no step run."""
    manifest = copy.deepcopy(manifest)
    manifest.step_run_id = None

    def work(conn: Any) -> None:
        ensure_project(conn, Known(), manifest.project)
        manifest.version = recording.next_version(conn, manifest.project, manifest.name)
        recording.insert_artifact(conn, manifest, "file:///store", "store-id")

    write(catalog.engine, work)
    return manifest


def raw_rows(catalog: Catalog, table: str) -> list[tuple[Any, ...]]:
    """Every stored value with its SQLite storage class, as the file holds it."""
    with catalog.engine.connect() as conn:
        columns = [row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({table})")]
        picks = ", ".join(f"typeof({c}), {c}" for c in columns)
        return [tuple(r) for r in conn.exec_driver_sql(f"SELECT {picks} FROM {table}")]


def typed_rows(catalog: Catalog) -> list[dict[str, Any]]:
    with catalog.engine.connect() as conn:
        return [
            dict(row._mapping)
            for table in (t.artifacts, t.artifact_names, t.labels)
            for row in conn.execute(select(table))
        ]


def test_a_file_catalog_stores_byte_for_byte_what_sqlalchemy_stores(tmp_path, source):
    file_catalog = Catalog(f"sqlite:///{tmp_path / 'file.db'}")  # the driver path
    memory_catalog = Catalog("sqlite://")  # SQLAlchemy's own
    try:
        plain = copy.deepcopy(source)  # no labels, no description, no user metadata
        plain.id, plain.name, plain.labels, plain.description, plain.user_metadata = (
            "00000000-0000-4000-8000-000000000003", "plain", {}, "", {},
        )  # fmt: skip
        for manifest in (source, plain):
            assert recorded_by(file_catalog, manifest).version == 1
            assert recorded_by(memory_catalog, manifest).version == 1
        for table in ("fa_artifacts", "fa_artifact_names", "fa_labels"):
            assert raw_rows(file_catalog, table) == raw_rows(memory_catalog, table)
        assert raw_rows(file_catalog, "fa_artifacts")  # something was compared
    finally:
        file_catalog.close()
        memory_catalog.close()


def test_every_backend_records_the_rows_sqlalchemy_records(tmp_path, source, catalog_url):
    """The same assertions on file SQLite (driver path) and PostgreSQL (SQLAlchemy's)."""
    reference = Catalog("sqlite://")
    catalog = Catalog(catalog_url)
    try:
        recorded_by(reference, source)
        again = copy.deepcopy(source)
        again.id = "00000000-0000-4000-8000-000000000002"  # the name again: version 2
        assert recorded_by(catalog, source).version == 1
        assert recorded_by(catalog, again).version == 2
        recorded_by(reference, again)
        assert typed_rows(catalog) == typed_rows(reference)
        loaded = catalog.get(again.id)
        assert (loaded.id, loaded.labels, loaded.user_metadata) == (
            again.id, source.labels, source.user_metadata,
        )  # fmt: skip
    finally:
        catalog.close()
        reference.close()


def test_a_database_error_on_the_driver_path_is_raised_as_sqlalchemy_raises_it(tmp_path, source):
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        recorded_by(catalog, source)
        with pytest.raises(IntegrityError, match="UNIQUE constraint failed: fa_artifacts.id"):
            recorded_by(catalog, source)  # the same artifact id again
        with catalog.engine.connect() as conn:  # the failed attempt's version was rolled back
            assert conn.execute(select(t.artifact_names.c.latest_version)).scalar() == 1
    finally:
        catalog.close()


_REFUSE_B = {
    "sqlite": [
        "CREATE TRIGGER refuse BEFORE INSERT ON fa_artifacts WHEN NEW.name = 'b' "
        "BEGIN SELECT RAISE(ABORT, 'insert refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger AS "
        "$$ BEGIN RAISE EXCEPTION 'insert refused'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse BEFORE INSERT ON fa_artifacts "
        "FOR EACH ROW WHEN (NEW.name = 'b') EXECUTE FUNCTION refuse()",
    ],
}


def test_a_batch_refused_at_its_second_row_leaves_no_trace(stack):
    """The first artifact's version, row and manifest go with the transaction that failed."""
    engine = stack.catalog.engine
    with engine.begin() as conn:
        for statement in _REFUSE_B[engine.dialect.name]:
            conn.exec_driver_sql(statement)

    with pytest.raises(Exception, match="insert refused"):
        fa.materialize_many({"a": 1, "b": 2}, run_id="r1", step_name="s", project="demo",
                            stack=stack)  # fmt: skip

    with engine.connect() as conn:
        assert conn.execute(select(t.artifacts.c.id)).all() == []
        assert conn.execute(select(t.artifact_names.c.name)).all() == []
    assert artifact_files(stack.store) == []  # neither manifest, nor bytes
    art = fa.materialize(3, "a", "r1", "s", "demo", stack=stack)  # the key stays writable
    assert (art.version, art.key) == (1, "demo/r1/s/a")
    assert fa.load(art, stack=stack) == 3


def test_a_locked_database_is_retried_on_the_driver_path(tmp_path, monkeypatch):
    """Another process holds the write lock: the BEGIN that the driver runs finds the database
    busy, and the write is retried until the lock is released."""
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_S", 0)  # busy at once, no waiting
    stack = fa.Stack.local(tmp_path / "fa", project="demo")
    slept: list[float] = []
    real_sleep = time.sleep
    monkeypatch.setattr(database.time, "sleep", lambda s: (slept.append(s), real_sleep(s)))
    other = sqlite3.connect(
        stack.catalog.engine.url.database, isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, other.commit)
    release.start()
    try:
        art = fa.materialize({"a": 1}, "report", "r1", "s", stack=stack)
    finally:
        release.join()
        other.close()
    assert slept  # it was busy, and retried
    assert art.version == 1 and fa.load("demo/report", stack=stack) == {"a": 1}
    stack.close()


def test_a_column_sqlalchemy_fills_by_default_is_filled_on_a_file_catalog(tmp_path):
    """`step_runs.cached` has a Python-side default: a row leaving it out still gets it."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    try:

        def work(conn: Any) -> None:
            ensure_project(conn, Known(), "demo")
            conn.execute(t.runs.insert(), {"project": "demo", "run_id": "r1", "status": "running",
                                           "started": datetime.now(timezone.utc)})  # fmt: skip
            pk = conn.execute(select(t.runs.c.pk)).scalar_one()
            row = {"id": "s1", "run_pk": pk, "step": "s", "status": "running",
                   "started": datetime.now(timezone.utc)}  # fmt: skip
            execute_many(conn, t.step_runs.insert(), [row])

        write(catalog.engine, work)
        with catalog.engine.connect() as conn:
            assert conn.execute(select(t.step_runs.c.cached)).scalar_one() is False
    finally:
        catalog.close()


def test_a_write_that_failed_does_not_keep_its_connection(tmp_path):
    stack = fa.Stack.local(tmp_path / "fa", project="demo")
    kept = stack.catalog._kept
    fa.materialize({"a": 1}, "first", "r1", "s", stack=stack)
    (before,) = kept._idle  # kept after a transaction that committed
    with stack.catalog.engine.begin() as conn:
        conn.exec_driver_sql(_REFUSE_B["sqlite"][0])
    with pytest.raises(Exception, match="insert refused"):
        fa.materialize({"b": 1}, "b", "r1", "s", stack=stack)
    assert kept._idle == []  # closed with its rolled-back transaction
    fa.materialize({"a": 2}, "first", "r1", "s", stack=stack)
    (after,) = kept._idle
    assert after is not before and before.closed
    stack.close()
    assert after.closed


def test_writes_from_many_threads_keep_few_connections_and_close_them_all(tmp_path):
    stack = fa.Stack.local(tmp_path / "fa", project="demo")
    failed: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(15):
                fa.materialize({"t": t, "i": i}, f"r{t}-{i}", "run", "eval", stack=stack)
        except BaseException as exc:  # reported below
            failed.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    assert len(list(fa.list_artifacts("demo", stack=stack))) == 120
    pool = stack.catalog.engine.pool
    assert len(stack.catalog._kept._idle) <= 2
    stack.close()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_writes_on_its_own_connection(tmp_path):
    stack = fa.Stack.local(tmp_path / "fa", project="demo")
    fa.materialize({"a": 1}, "parent", "r1", "s", stack=stack)  # the parent keeps a connection
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        try:
            kept = stack.catalog._kept
            parents = {id(conn) for conn in kept._inherited}
            art = fa.materialize({"a": 2}, "child", "r1", "s", stack=stack)
            ok = art.version == 1 and bool(parents) and not parents & {id(c) for c in kept._idle}
            os._exit(0 if ok else 3)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert fa.load("demo/child", stack=stack) == {"a": 2}
    assert fa.materialize({"a": 3}, "parent", "r1", "s", stack=stack).version == 2
    stack.close()


@pytest.mark.parametrize("fails", [False, True], ids=["commits", "fails"])
def test_a_kept_transaction_commits_or_rolls_back_its_statements_on_either_path(tmp_path, fails):
    """On a file catalog's kept connection the transaction is begun and committed on the
    driver; a statement run through SQLAlchemy inside it joins it, and goes with it."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    now = datetime.now(timezone.utc)

    def work(conn: Any) -> None:
        ensure_project(conn, Known(), "driver")  # on the driver connection
        conn.execute(t.projects.insert(), {"name": "sqlalchemy", "created": now})
        ensure_project(conn, Known(), "after")
        if fails:
            raise RuntimeError("refused")

    try:
        if fails:
            with pytest.raises(RuntimeError, match="refused"):
                catalog._write(work)
        else:
            catalog._write(work)
        catalog._write(lambda conn: ensure_project(conn, Known(), "next"))  # still writable
        with catalog.engine.connect() as conn:
            names = set(conn.execute(select(t.projects.c.name)).scalars())
        assert names == ({"next"} if fails else {"driver", "sqlalchemy", "after", "next"})
    finally:
        catalog.close()


def test_a_row_holds_its_manifest_json_as_the_file_has_it(stack):
    """The manifest is encoded once, for its file and its row: both hold the same JSON (on
    SQLite the same text), and the artifact reads back as it was written."""
    art = fa.materialize({"a": "é"}, "r", "r1", "s", "demo", labels={"k": "v"},
                         metadata={"n": [1, 2.5]}, stack=stack)  # fmt: skip
    text = (Path(stack.store.root) / f"{art.key}{MANIFEST_SUFFIX}").read_text("utf-8")
    with stack.catalog.engine.connect() as conn:
        stored = conn.execute(
            select(t.artifacts.c.manifest).where(t.artifacts.c.id == art.id)
        ).scalar_one()
        if conn.dialect.name == "sqlite":
            raw = conn.exec_driver_sql("SELECT manifest FROM fa_artifacts").scalar_one()
            assert raw == text
    assert stored == json.loads(text)
    assert stored["version"] == 1 and stored["format_version"] == 1
    assert fa.get_artifact("store://demo/r", stack=stack).manifest == art.manifest


def test_a_statement_is_compiled_once_unless_sqlalchemy_fills_a_default_per_execution() -> None:
    from sqlalchemy import delete, insert, update

    from flow_artifacts.catalog.driver_writes import _fills_defaults

    # `cached` has an insert default: an insert leaving it out needs SQLAlchemy at each call;
    # an update (a step's end) or a delete never fills it, so it runs compiled on the driver
    assert _fills_defaults(insert(t.step_runs), ("id", "status"))
    assert not _fills_defaults(insert(t.step_runs), ("id", "status", "cached"))
    assert not _fills_defaults(update(t.step_runs).values(status="x"), ("status",))
    assert not _fills_defaults(delete(t.step_runs), ())
