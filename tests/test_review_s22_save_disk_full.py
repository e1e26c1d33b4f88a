"""SQLite rolls a whole transaction back by itself when the disk is full (SQLITE_FULL): a
write whose work caught that error in a savepoint (reindex skips a manifest it cannot restore)
must not carry on outside any transaction, where each later savepoint commits on its own, nor
report what it did not record. It fails, and the catalog is left as it was."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event, select

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.catalog import schema as t


def names(catalog: Catalog) -> list[str]:
    with catalog.engine.connect() as conn:
        return sorted(conn.execute(select(t.artifact_names.c.name)).scalars())


def test_a_reindex_that_fills_the_disk_fails_and_records_nothing(tmp_path):
    stack = fa.Stack.local(tmp_path / "fa", project="demo")
    for name in ("a", "b", "big", "c", "d"):
        description = "x" * 3_000_000 if name == "big" else ""
        fa.materialize(b"x", name, "r1", "s", "demo", stack=stack, description=description)
    path = stack.catalog.engine.url.database
    stack.close()
    raw = sqlite3.connect(path, isolation_level=None)  # a catalog that lost its rows
    for table in ("fa_labels", "fa_artifacts", "fa_artifact_names"):
        raw.execute(f"DELETE FROM {table}")
    raw.execute("VACUUM")
    pages = raw.execute("PRAGMA page_count").fetchone()[0]
    raw.close()

    catalog = Catalog(f"sqlite:///{path}")
    catalog.engine.dispose()

    @event.listens_for(catalog.engine, "connect")
    def _small_disk(dbapi_connection, _record):  # room for the small rows, not the big one
        dbapi_connection.execute(f"PRAGMA max_page_count={pages + 20}")

    full = fa.Stack(store=stack.store, catalog=catalog, name="full", project="demo")
    try:
        with pytest.raises(fa.FlowArtifactsError, match="rolled this write back"):
            fa.reindex(stack=full)
        assert names(catalog) == []  # neither the rows before the big one, nor after
    finally:
        catalog.close()
