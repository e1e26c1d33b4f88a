"""The catalog changes that are journaled, as SQL on a connection: one definition serves both the
live call and its replay by `reindex`, so the two cannot drift apart.

Each change carries a causal stamp (`at`), which orders the journal's records for replay. A live
change takes it inside its transaction, after locking the row whose state it replaces: the
writer's clock, but always later than that state's own stamp (`after`), so that conflicting
changes of one entity replay in the order they committed even when writers' clocks differ. The
entity of a tag change is its name (`artifact_names.changed`), of a label, description or aspect
change its artifact (`artifacts.changed`, else its creation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select, update

from ..limits import check_json, check_labels
from . import schema as t
from .records import insert_labels, name_is


def label_patch(labels: Mapping[Any, Any]) -> dict[str, str | None]:
    """Labels to merge, as text; a None value removes the label."""
    patch = {str(k): None if v is None else str(v) for k, v in labels.items()}
    check_labels({k: v for k, v in patch.items() if v is not None})
    return patch


def later(clock: datetime, after: datetime | None) -> datetime:
    """The stamp of a change made at `clock` that replaces a state stamped `after`."""
    return clock if after is None else max(clock, after + timedelta(microseconds=1))


def artifact_stamp(conn: Connection, artifact_id: str) -> datetime | None:
    """The stamp of an artifact's current state, its row locked; None if there is no such row."""
    a = t.artifacts
    row = conn.execute(
        select(a.c.created, a.c.changed).where(a.c.id == artifact_id).with_for_update()
    ).first()
    if row is None:
        return None
    return row.created if row.changed is None else max(row.created, row.changed)


def name_stamp(conn: Connection, project: str, name: str) -> datetime | None:
    """The stamp of the last tag change of (project, name), its row locked."""
    n = t.artifact_names
    return conn.execute(
        select(n.c.changed).where(name_is(n, project, name)).with_for_update()
    ).scalar()


def apply_update(
    conn: Connection,
    artifact_id: str,
    patch: Mapping[str, str | None] | None,
    description: str | None,
    at: datetime,
    metadata: Mapping[str, Any] | None = None,
) -> bool:
    """Merge `patch` into an artifact's labels, `metadata` into its user metadata (a None value
    removes a key in both), and/or set its description; False if no such row. The stamp `at`
    is the artifact's `changed`, shown as its `updated` time."""
    a = t.artifacts
    row = conn.execute(
        select(a.c.labels, a.c.project, a.c.created, a.c.user_metadata).where(a.c.id == artifact_id)
    ).first()
    if row is None:
        return False
    values: dict[str, Any] = {"changed": at}
    if patch is not None:
        merged = {k: v for k, v in {**row.labels, **patch}.items() if v is not None}
        check_labels(merged)
        values["labels"] = merged
        conn.execute(delete(t.labels).where(t.labels.c.artifact_id == artifact_id))
        insert_labels(conn, artifact_id, merged, row.project, row.created)
    if description is not None:
        values["description"] = description
    if metadata is not None:
        merged_metadata = {
            k: v for k, v in {**row.user_metadata, **metadata}.items() if v is not None
        }
        check_json(merged_metadata, "metadata")
        values["user_metadata"] = merged_metadata
    conn.execute(update(a).where(a.c.id == artifact_id).values(**values))
    return True


def set_tag(
    conn: Connection, project: str, name: str, tag: str, artifact_id: str, at: datetime
) -> None:
    untag_name(conn, project, name, tag, at)
    conn.execute(
        t.tags.insert().values(
            project=project, name=name, tag=tag, artifact_id=artifact_id, created=at
        )
    )


def untag_name(conn: Connection, project: str, name: str, tag: str, at: datetime) -> bool:
    """Remove a tag as a change of its name stamped `at`; False if there was none."""
    n = t.artifact_names
    conn.execute(update(n).where(name_is(n, project, name)).values(changed=at))
    return remove_tag(conn, project, name, tag)


def remove_tag(conn: Connection, project: str, name: str, tag: str) -> bool:
    """Remove a tag; False if there was none."""
    result = conn.execute(delete(t.tags).where(name_is(t.tags, project, name), t.tags.c.tag == tag))
    return bool(result.rowcount)


def insert_aspect(
    conn: Connection, artifact_id: str, aspect: str, body: Any, json_schema: Any, at: datetime
) -> None:
    conn.execute(
        t.aspects.insert().values(
            artifact_id=artifact_id, aspect=aspect, body=body, json_schema=json_schema, created=at
        )
    )
    conn.execute(update(t.artifacts).where(t.artifacts.c.id == artifact_id).values(changed=at))


def delete_artifacts(conn: Connection, artifact_ids: Sequence[str]) -> None:
    """Artifacts' rows with their labels, tags, aspects and input edges."""
    for table in (t.labels, t.tags, t.aspects, t.step_inputs):
        conn.execute(delete(table).where(table.c.artifact_id.in_(artifact_ids)))
    conn.execute(delete(t.artifacts).where(t.artifacts.c.id.in_(artifact_ids)))
