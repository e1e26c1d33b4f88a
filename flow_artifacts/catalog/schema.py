"""The catalog's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Bump SCHEMA_VERSION with every change and add the step that gets there to `migrations.MIGRATIONS`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from ..limits import CHECKSUM_CHARS, ID_CHARS, LABEL_VALUE_CHARS, NAME_CHARS, STATUS_CHARS

SCHEMA_VERSION = 5
NAME = String(NAME_CHARS)
ID = String(ID_CHARS)
STATUS = String(STATUS_CHARS)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as naive UTC and returned timezone-aware, the same on every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware one")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


metadata = MetaData()

schema_info = Table(
    "fa_schema",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
)

projects = Table(
    "fa_projects",
    metadata,
    Column("name", NAME, primary_key=True),
    Column("created", UTCDateTime, nullable=False),
)

runs = Table(
    "fa_runs",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("project", NAME, ForeignKey("fa_projects.name"), nullable=False),
    Column("run_id", NAME, nullable=False),
    Column("name", NAME),
    Column("pipeline", NAME),
    Column("status", STATUS, nullable=False),
    Column("started", UTCDateTime, nullable=False),
    Column("ended", UTCDateTime),
    Column("error", Text),
    # Who writes the run while it is open, and when it last said it was alive (version 3).
    Column("host", NAME),
    Column("pid", Integer),
    Column("heartbeat", UTCDateTime),
    UniqueConstraint("project", "run_id", name="uq_fa_runs_project_run"),
    Index("ix_fa_runs_project_started", "project", "started"),
)

step_runs = Table(
    "fa_step_runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("run_pk", Integer, ForeignKey("fa_runs.pk"), nullable=False),
    Column("step", NAME, nullable=False),
    Column("status", STATUS, nullable=False),
    Column("started", UTCDateTime, nullable=False),
    Column("ended", UTCDateTime),
    Column("params", JSON),
    Column("error", Text),
    Column("cache_key", String(80)),
    Column("cached", Boolean, nullable=False, default=False),
    Column("host", NAME),  # version 3, as on runs
    Column("pid", Integer),
    Column("heartbeat", UTCDateTime),
    # Which attempt of the step run this is: an engine reruns a step whose worker was lost
    # (version 3; NULL is the first).
    Column("attempt", Integer),
    UniqueConstraint("run_pk", "step", name="uq_fa_step_runs_run_step"),
    Index("ix_fa_step_runs_cache_key", "cache_key"),
)

artifacts = Table(
    "fa_artifacts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", NAME, ForeignKey("fa_projects.name"), nullable=False),
    Column("name", NAME, nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", STATUS, nullable=False),
    Column("materializer", NAME, nullable=False),
    Column("store_url", Text, nullable=False),
    # The identity record of the store holding the bytes (version 3); NULL on rows written before
    # it, until gc finds their manifest in a store and adopts that store's id.
    Column("store_id", ID),
    Column("key", Text, nullable=False),
    Column("data_path", Text, nullable=False),
    Column("checksum", String(CHECKSUM_CHARS), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("mime_type", NAME, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("description", Text, nullable=False),
    Column("user_metadata", JSON, nullable=False),
    Column("manifest", JSON, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    # The causal stamp of its last label, description or aspect change (version 3).
    Column("changed", UTCDateTime),
    Column("step_run_id", ID, ForeignKey("fa_step_runs.id")),
    # Its step run's step, repeated so the list sorted by step reads an index (version 3); ""
    # without a step run.
    Column("step", NAME, nullable=False, server_default=""),
    Column("status", STATUS, nullable=False),
    # Whether its bytes may be unpickled (version 3): False on a row `reindex` restored from the
    # store (untrusted input) until someone trusts it; NULL on rows this catalog recorded live.
    Column("pickle_trusted", Boolean),
    UniqueConstraint("project", "name", "version", name="uq_fa_artifacts_version"),
    Index("ix_fa_artifacts_project_created", "project", "created", "id"),
    Index("ix_fa_artifacts_created", "created", "id"),
    Index("ix_fa_artifacts_step_run", "step_run_id"),
    Index("ix_fa_artifacts_store", "store_id"),
    # The web page's sorts by kind, size, version and step, read in order per project (version
    # 3): `search.search` merges the projects' first pages when no project is chosen.
    Index("ix_fa_artifacts_project_kind", "project", "kind", "id"),
    Index("ix_fa_artifacts_project_size", "project", "size", "id"),
    Index("ix_fa_artifacts_project_version", "project", "version", "id"),
    Index("ix_fa_artifacts_project_step", "project", "step", "id"),
)

artifact_names = Table(
    "fa_artifact_names",
    metadata,
    Column("project", NAME, primary_key=True),
    Column("name", NAME, primary_key=True),
    Column("latest_version", Integer, nullable=False),
    # The causal stamp of the name's last tag change (version 3): the next one is stamped later.
    Column("changed", UTCDateTime),
    # On SQLite the rows live in the primary key's B-tree (version 5): a save's version upsert
    # writes one B-tree instead of the table's and its key's index.
    sqlite_with_rowid=False,
)

labels = Table(
    "fa_labels",
    metadata,
    Column("artifact_id", ID, ForeignKey("fa_artifacts.id"), primary_key=True),
    Column("key", NAME, primary_key=True),
    Column("value", String(LABEL_VALUE_CHARS), nullable=False),
    # The artifact's project and creation time, repeated so that a listing filtered by a label is
    # read off one index in order, however rare the label (version 2).
    Column("project", NAME, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Index("ix_fa_labels_listing", "key", "value", "created", "artifact_id"),
    Index("ix_fa_labels_project_listing", "project", "key", "value", "created", "artifact_id"),
)

tags = Table(
    "fa_tags",
    metadata,
    Column("project", NAME, primary_key=True),
    Column("name", NAME, primary_key=True),
    Column("tag", NAME, primary_key=True),
    Column("artifact_id", ID, ForeignKey("fa_artifacts.id"), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Index("ix_fa_tags_artifact", "artifact_id"),
)

step_inputs = Table(
    "fa_step_inputs",
    metadata,
    Column("step_run_id", ID, ForeignKey("fa_step_runs.id"), primary_key=True),
    Column("artifact_id", ID, ForeignKey("fa_artifacts.id"), primary_key=True),
    Index("ix_fa_step_inputs_artifact", "artifact_id", "step_run_id"),
)

aspects = Table(
    "fa_metadata_aspects",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("artifact_id", ID, ForeignKey("fa_artifacts.id"), nullable=False),
    Column("aspect", NAME, nullable=False),
    Column("body", JSON, nullable=False),
    Column("json_schema", JSON),
    Column("created", UTCDateTime, nullable=False),
    Index("ix_fa_aspects_artifact", "artifact_id", "aspect"),
)
