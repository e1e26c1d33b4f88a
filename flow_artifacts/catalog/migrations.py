"""Forward steps between catalog schema versions, applied in order by `database.ensure_schema`."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, select, text, update

from . import schema


def _label_listing_index(conn: Connection) -> None:
    """Version 2: label rows repeat their artifact's project and creation time, indexed in order.

    The added columns stay nullable here (SQLite cannot add a NOT NULL column without a default);
    every existing row is filled below and every new one by `records.insert_labels`. The indexes
    are spelled out, not taken from `schema`, so that later versions cannot change this step.
    """
    labels, artifacts = schema.labels, schema.artifacts
    for column in (labels.c.project, labels.c.created):
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE {labels.name} ADD COLUMN {column.name} {kind}"))
    owner = artifacts.c.id == labels.c.artifact_id
    conn.execute(
        update(labels).values(
            project=select(artifacts.c.project).where(owner).scalar_subquery(),
            created=select(artifacts.c.created).where(owner).scalar_subquery(),
        )
    )
    conn.execute(text("DROP INDEX ix_fa_labels_key_value"))
    conn.execute(
        text("CREATE INDEX ix_fa_labels_listing ON fa_labels (key, value, created, artifact_id)")
    )
    conn.execute(
        text(
            "CREATE INDEX ix_fa_labels_project_listing "
            "ON fa_labels (project, key, value, created, artifact_id)"
        )
    )


def _run_writers(conn: Connection) -> None:
    """Runs and step runs record host, process id and a heartbeat (run liveness).

    Nullable: rows from before have none, and readers judge them by their start time instead.
    The column types are spelled out so that later versions cannot change this step.
    """
    moment = "TIMESTAMP WITHOUT TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME"
    for table in ("fa_runs", "fa_step_runs"):
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN host VARCHAR(200)"))
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN pid INTEGER"))
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN heartbeat {moment}"))


def _store_identity(conn: Connection) -> None:
    """Rows record the id of the store that holds their bytes.

    Existing rows get NULL: the store they name by URL text cannot be identified from here. gc
    counts a NULL row as owning its paths in any store, and gives it the store's id once it finds
    the row's own manifest there (`inventory.adopt_rows`).
    """
    conn.execute(text("ALTER TABLE fa_artifacts ADD COLUMN store_id VARCHAR(36)"))
    conn.execute(text("CREATE INDEX ix_fa_artifacts_store ON fa_artifacts (store_id)"))


def _change_stamps(conn: Connection) -> None:
    """Artifacts and names record the causal stamp of their last journaled change, so the next
    change is stamped later whatever the writer's clock (`catalog/changes.py`).

    Nullable: existing rows have none, and their next change is stamped by the clock alone.
    """
    moment = "TIMESTAMP WITHOUT TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME"
    for table in ("fa_artifacts", "fa_artifact_names"):
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN changed {moment}"))


def _step_attempts(conn: Connection) -> None:
    """Step runs count their attempts (executors rerun a step whose worker was lost).

    Nullable: existing rows, and every first attempt, are attempt 1 without saying so.
    """
    conn.execute(text("ALTER TABLE fa_step_runs ADD COLUMN attempt INTEGER"))


def _pickle_trust(conn: Connection) -> None:
    """Artifact rows say whether their bytes may be unpickled (`pickle_policy`).

    Nullable: existing rows get NULL, trusted as before, since this catalog recorded them or an
    earlier reindex restored them at a time when reindex trusted the store; rows restored by
    reindex from now on get FALSE until `trust_pickle` or `reindex(trust_pickles=True)`.
    """
    conn.execute(text("ALTER TABLE fa_artifacts ADD COLUMN pickle_trusted BOOLEAN"))


def _listing_sort_indexes(conn: Connection) -> None:
    """Version 4: the web page's list sorted by kind, size, version or step reads a page off an
    index per project instead of sorting every artifact (150-185 ms at 100,000 artifacts
    before). Rows repeat their step run's step for it ("" without one), filled here for existing
    rows.

    Spelled out, not taken from `schema`, so that later versions cannot change this step.
    """
    conn.execute(text("ALTER TABLE fa_artifacts ADD COLUMN step VARCHAR(200) NOT NULL DEFAULT ''"))
    conn.execute(
        text(
            "UPDATE fa_artifacts SET step = (SELECT s.step FROM fa_step_runs s "
            "WHERE s.id = fa_artifacts.step_run_id) WHERE step_run_id IS NOT NULL"
        )
    )
    for column in ("kind", "size", "version", "step"):
        index = f"ix_fa_artifacts_project_{column}"
        conn.execute(text(f"CREATE INDEX {index} ON fa_artifacts (project, {column}, id)"))


def _names_without_rowid(conn: Connection) -> None:
    """Version 5: on SQLite, the name counters live in their primary key's B-tree (WITHOUT
    ROWID), so the upsert of every save writes one B-tree instead of two. PostgreSQL is
    unchanged.

    SQLite cannot change this in place: the table is copied whole into its new form, which then
    takes the old one's name. Spelled out, not taken from `schema`, so that later versions cannot
    change this step.
    """
    if conn.dialect.name != "sqlite":
        return
    conn.execute(
        text(
            "CREATE TABLE fa_artifact_names_v5 (project VARCHAR(200) NOT NULL, "
            "name VARCHAR(200) NOT NULL, latest_version INTEGER NOT NULL, changed DATETIME, "
            "PRIMARY KEY (project, name)) WITHOUT ROWID"
        )
    )
    conn.execute(
        text(
            "INSERT INTO fa_artifact_names_v5 (project, name, latest_version, changed) "
            "SELECT project, name, latest_version, changed FROM fa_artifact_names"
        )
    )
    conn.execute(text("DROP TABLE fa_artifact_names"))
    conn.execute(text("ALTER TABLE fa_artifact_names_v5 RENAME TO fa_artifact_names"))


def _version_3(conn: Connection) -> None:
    """Version 3: run liveness, store identity, change stamps, step-run attempts, pickle trust."""
    _run_writers(conn)
    _store_identity(conn)
    _change_stamps(conn)
    _step_attempts(conn)
    _pickle_trust(conn)


MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    2: _label_listing_index,
    3: _version_3,
    4: _listing_sort_indexes,
    5: _names_without_rowid,
}
"""The step from version N-1 to N, keyed by N: one for every version above 1."""
