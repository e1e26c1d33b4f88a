"""A catalog written by an older release is migrated in place when opened, losing nothing."""

from __future__ import annotations

from sqlalchemy import inspect, select, text

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog, Search, schema
from flow_artifacts.maintenance import gc, verify

VERSION_3 = [
    *(f"DROP INDEX ix_fa_artifacts_project_{c}" for c in ("kind", "size", "version", "step")),
    "ALTER TABLE fa_artifacts DROP COLUMN step",
]
"""What version 3 lacked: the list's sort indexes and the step each artifact row repeats."""

VERSION_2 = [
    *VERSION_3,
    *(
        f"ALTER TABLE {table} DROP COLUMN {column}"
        for table in ("fa_runs", "fa_step_runs")
        for column in ("host", "pid", "heartbeat")
    ),
    "DROP INDEX ix_fa_artifacts_store",
    "ALTER TABLE fa_artifacts DROP COLUMN store_id",
    "ALTER TABLE fa_artifacts DROP COLUMN changed",
    "ALTER TABLE fa_artifact_names DROP COLUMN changed",
    "ALTER TABLE fa_step_runs DROP COLUMN attempt",
    "ALTER TABLE fa_artifacts DROP COLUMN pickle_trusted",
]
"""What version 2 lacked: the writer and heartbeat of runs and step runs, rows' store id, the
change stamps of artifacts and names, step-run attempts, rows' pickle trust, and all that version
3 lacked."""


def current_version(conn) -> int:
    return conn.execute(select(schema.schema_info.c.version)).scalar_one()


VERSION_1_LABELS = [
    *VERSION_2,
    "DROP INDEX ix_fa_labels_listing",
    "DROP INDEX ix_fa_labels_project_listing",
    "ALTER TABLE fa_labels DROP COLUMN project",
    "ALTER TABLE fa_labels DROP COLUMN created",
    "CREATE INDEX ix_fa_labels_key_value ON fa_labels (key, value, artifact_id)",
    "UPDATE fa_schema SET version = 1",
]
"""What version 1 had: label rows without their artifact's project and creation time."""


def test_a_version_1_catalog_is_migrated_and_its_labels_still_filter(stack, catalog_url):
    written = [
        fa.materialize(
            {"i": i},
            f"n{i}",
            "r1",
            "s",
            "demo" if i < 4 else "other",
            labels={"team": "a" if i % 2 else "b", "tier": "gold"},
            stack=stack,
        )
        for i in range(6)
    ]
    with stack.catalog.engine.begin() as conn:
        for statement in VERSION_1_LABELS:
            conn.execute(text(statement))
    stack.catalog.close()

    migrated = Catalog(catalog_url)
    with migrated.engine.connect() as conn:
        assert current_version(conn) == schema.SCHEMA_VERSION
    indexes = {index["name"] for index in inspect(migrated.engine).get_indexes("fa_labels")}
    assert indexes == {index.name for index in schema.labels.indexes}
    team_a = migrated.list_page(project="demo", labels={"team": "a", "tier": "gold"})
    assert [m.id for m in team_a.items] == [written[3].id, written[1].id]
    everywhere = migrated.list_page(labels={"team": "a"}, page_size=2)
    assert [m.id for m in everywhere.items] == [written[5].id, written[3].id]
    rest = migrated.list_page(labels={"team": "a"}, page_size=2, cursor=everywhere.next_cursor)
    assert [m.id for m in rest.items] == [written[1].id] and rest.next_cursor is None

    newer = fa.Stack(store=stack.store, catalog=migrated)
    added = fa.materialize({"i": 6}, "n6", "r2", "s", "demo", labels={"team": "a"}, stack=newer)
    fa.update(written[1], labels={"team": "b"}, stack=newer)
    team_a = migrated.list_page(project="demo", labels={"team": "a"})
    assert [m.id for m in team_a.items] == [added.id, written[3].id]
    migrated.close()


def test_a_version_2_catalog_gets_run_liveness_and_judges_old_open_runs_by_their_start(
    stack, catalog_url
):
    with fa.run(project="demo", run_id="done", stack=stack):
        fa.materialize({"i": 1}, "n", "done", "s", "demo", stack=stack)
    with stack.catalog.engine.begin() as conn:
        for statement in [*VERSION_2, "UPDATE fa_schema SET version = 2"]:
            conn.execute(text(statement))
        conn.execute(
            text(
                "INSERT INTO fa_runs (project, run_id, status, started) "
                "VALUES ('demo', 'lost', 'running', '2020-01-01 00:00:00')"
            )
        )
    stack.catalog.close()

    migrated = Catalog(catalog_url)
    columns = {c["name"] for c in inspect(migrated.engine).get_columns("fa_step_runs")}
    assert {"host", "pid", "heartbeat", "attempt"} <= columns
    statuses = {r.run_id: r.status for r in migrated.runs("demo")}
    assert statuses == {"done": "completed", "lost": "crashed"}
    newer = fa.Stack(store=stack.store, catalog=migrated)
    with fa.run(project="demo", run_id="fresh", stack=newer):
        assert {r.run_id: r.status for r in migrated.runs("demo")}["fresh"] == "running"
    migrated.close()


def test_a_version_2_catalog_keeps_working_and_its_rows_adopt_the_store(stack, catalog_url):
    old = [fa.materialize({"i": i}, f"n{i}", "r1", "s", "demo", stack=stack) for i in range(3)]
    pickled = fa.materialize({"i"}, "p", "r1", "s", "demo", materializer="cloudpickle", stack=stack)
    with stack.catalog.engine.begin() as conn:
        for statement in [*VERSION_2, "UPDATE fa_schema SET version = 2"]:
            conn.execute(text(statement))
    stack.catalog.close()

    migrated = Catalog(catalog_url)
    with migrated.engine.connect() as conn:
        assert current_version(conn) == schema.SCHEMA_VERSION
        assert set(conn.execute(select(schema.artifacts.c.store_id)).scalars()) == {None}
    newer = fa.Stack(store=fa.ArtifactStore(stack.store.root), catalog=migrated)
    assert fa.load(old[0].uri, stack=newer) == {"i": 0}
    assert fa.load(pickled.uri, stack=newer) == {"i"}  # a row it recorded stays trusted

    report = gc(stack=newer)
    assert report.paths == [] and report.unknown_manifests == []
    with migrated.engine.connect() as conn:
        ids = set(conn.execute(select(schema.artifacts.c.store_id)).scalars())
    assert ids == {newer.store.identity}
    assert all(r.ok for r in verify(stack=newer))
    migrated.close()


def test_a_version_3_catalog_gets_the_list_sort_indexes(stack, catalog_url):
    """Version 3 shipped: a catalog already at it must still get version 4's indexes."""
    made = [fa.materialize({"i": i}, "n", "r1", f"step{i}", "demo", stack=stack) for i in (2, 1)]
    with stack.catalog.engine.begin() as conn:
        for statement in [*VERSION_3, "UPDATE fa_schema SET version = 3"]:
            conn.execute(text(statement))
    stack.catalog.close()
    migrated = Catalog(catalog_url)
    with migrated.engine.connect() as conn:
        found = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("fa_artifacts")}
    for column in ("kind", "size", "version", "step"):
        assert found[f"ix_fa_artifacts_project_{column}"] == ["project", column, "id"]
    by_step = migrated.search(Search(sort="step", descending=False)).items
    assert [(m.id, m.step) for m in by_step] == [(m.id, m.step) for m in reversed(made)]
    migrated.close()


def names_table_sql(conn) -> str:
    """How SQLite declares the name counters ("" on other databases)."""
    if conn.dialect.name != "sqlite":
        return ""
    found = "SELECT sql FROM sqlite_master WHERE name = 'fa_artifact_names'"
    return str(conn.execute(text(found)).scalar_one())


def test_a_version_4_catalog_keeps_its_name_counters_and_tags(stack, catalog_url):
    """Version 5 moves SQLite's name counters into their key's B-tree (WITHOUT ROWID): every
    counter and tag stamp survives, and versions go on from where they were."""
    made = [fa.materialize({"i": i}, "n", "r1", "s", "demo", stack=stack) for i in range(3)]
    fa.materialize({"i": 9}, "m", "r1", "s", "other", stack=stack)
    fa.tag(made[1], "best", stack=stack)  # stamps the name's row
    names = schema.artifact_names
    with stack.catalog.engine.begin() as conn:
        assert "WITHOUT ROWID" in names_table_sql(conn) or conn.dialect.name != "sqlite"
        before = conn.execute(select(names).order_by(names.c.project, names.c.name)).all()
        if conn.dialect.name == "sqlite":  # as version 4 declared it: rows in a rowid table
            conn.execute(text("ALTER TABLE fa_artifact_names RENAME TO old_names"))
            conn.execute(
                text(
                    "CREATE TABLE fa_artifact_names (project VARCHAR(200) NOT NULL, "
                    "name VARCHAR(200) NOT NULL, latest_version INTEGER NOT NULL, "
                    "changed DATETIME, PRIMARY KEY (project, name))"
                )
            )
            conn.execute(text("INSERT INTO fa_artifact_names SELECT * FROM old_names"))
            conn.execute(text("DROP TABLE old_names"))
        conn.execute(text("UPDATE fa_schema SET version = 4"))
    stack.catalog.close()

    migrated = Catalog(catalog_url)
    with migrated.engine.connect() as conn:
        assert current_version(conn) == schema.SCHEMA_VERSION
        assert "WITHOUT ROWID" in names_table_sql(conn) or conn.dialect.name != "sqlite"
        after = conn.execute(select(names).order_by(names.c.project, names.c.name)).all()
    assert after == before and [r.latest_version for r in after] == [3, 1]
    newer = fa.Stack(store=stack.store, catalog=migrated)
    assert fa.materialize({"i": 3}, "n", "r2", "s", "demo", stack=newer).version == 4
    assert fa.load("store://demo/n:best", stack=newer) == {"i": 1}
    fa.tag("store://demo/n@4", "best", stack=newer)  # stamped after the migrated stamp
    assert fa.load("store://demo/n:best", stack=newer) == {"i": 3}
    migrated.close()
