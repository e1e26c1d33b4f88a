"""The catalog changes that are journaled, as SQL on a connection: one definition serves both the
live call and its replay by `reindex`, so the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from ..limits import check_labels
from . import schema as t
from .records import insert_labels, name_is


def label_patch(labels: Mapping[Any, Any]) -> dict[str, str | None]:
    """Labels to merge, as text; a None value removes the label."""
    patch = {str(k): None if v is None else str(v) for k, v in labels.items()}
    check_labels({k: v for k, v in patch.items() if v is not None})
    return patch


def apply_update(
    conn: Connection,
    artifact_id: str,
    patch: Mapping[str, str | None] | None,
    description: str | None,
) -> bool:
    """Merge `patch` into an artifact's labels and/or set its description; False if no such row."""
    a = t.artifacts
    row = conn.execute(
        select(a.c.labels, a.c.project, a.c.created).where(a.c.id == artifact_id)
    ).first()
    if row is None:
        return False
    values: dict[str, Any] = {}
    if patch is not None:
        merged = {k: v for k, v in {**row.labels, **patch}.items() if v is not None}
        check_labels(merged)
        values["labels"] = merged
        conn.execute(delete(t.labels).where(t.labels.c.artifact_id == artifact_id))
        insert_labels(conn, artifact_id, merged, row.project, row.created)
    if description is not None:
        values["description"] = description
    if values:
        conn.execute(update(a).where(a.c.id == artifact_id).values(**values))
    return True


def set_tag(
    conn: Connection, project: str, name: str, tag: str, artifact_id: str, at: datetime
) -> None:
    remove_tag(conn, project, name, tag)
    conn.execute(
        t.tags.insert().values(
            project=project, name=name, tag=tag, artifact_id=artifact_id, created=at
        )
    )


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


def delete_artifacts(conn: Connection, artifact_ids: Sequence[str]) -> None:
    """Artifacts' rows with their labels, tags, aspects and input edges."""
    for table in (t.labels, t.tags, t.aspects, t.step_inputs):
        conn.execute(delete(table).where(table.c.artifact_id.in_(artifact_ids)))
    conn.execute(delete(t.artifacts).where(t.artifacts.c.id.in_(artifact_ids)))
