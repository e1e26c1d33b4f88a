"""Curation as users call it: the checks of a tag, label, description, metadata or aspect change,
and each live change on a connection, stamped after its entity's row is locked and journaled
through its `Pending`. The SQL of each change is `changes.py`'s, which `reindex` replays."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from ..errors import ArtifactNotFound, InvalidName
from ..limits import check_json, check_text
from ..naming import LATEST, validate_name
from ..refs import artifact_uri
from . import schema as t
from .changes import (
    apply_update,
    artifact_stamp,
    delete_artifacts,
    insert_aspect,
    label_patch,
    name_stamp,
    set_tag,
    untag_name,
)
from .journaling import Pending


def check_tag(tag: str) -> None:
    """`InvalidName` unless `tag` can name a version in a reference."""
    validate_name(tag, "tag")
    if tag.isdigit():
        raise InvalidName(f"tag {tag!r} would read as a version number; use a word")
    if any(c.isspace() for c in tag):
        raise InvalidName(
            f"tag {tag!r} contains white space, which a reference cannot carry; "
            f"use {'-'.join(tag.split())!r}"
        )
    if tag == LATEST:
        raise InvalidName(
            f"tag {LATEST!r} is reserved: ':{LATEST}' always means the newest version; "
            "choose another tag"
        )


def checked_update(
    labels: Mapping[str, str | None] | None,
    description: str | None,
    metadata: Mapping[str, Any] | None,
) -> tuple[dict[str, str | None] | None, dict[str, Any] | None]:
    """The label patch and metadata of an update, checked before any transaction starts."""
    patch = None if labels is None else label_patch(labels)
    if description is not None:
        check_text(description, "description")
    if metadata is not None:
        if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
            raise InvalidName("metadata must be a mapping with string keys")
        metadata = dict(metadata)
        check_json(metadata, "metadata")
    return patch, metadata


def update_artifact(
    conn: Connection,
    pending: Pending,
    artifact_id: str,
    patch: Mapping[str, str | None] | None,
    description: str | None,
    metadata: Mapping[str, Any] | None,
) -> None:
    after = artifact_stamp(conn, artifact_id)
    at = pending.stamp(after)
    if after is None or not apply_update(conn, artifact_id, patch, description, at, metadata):
        raise ArtifactNotFound(f"no artifact {artifact_id}")
    fields = {"artifact_id": artifact_id, "labels": patch, "description": description}
    pending.add("update", at, {**fields, "metadata": metadata})


def tag(
    conn: Connection, pending: Pending, project: str, name: str, tag: str, artifact_id: str
) -> None:
    at = pending.stamp(name_stamp(conn, project, name))
    set_tag(conn, project, name, tag, artifact_id, at)
    fields = {"project": project, "name": name, "tag": tag}
    pending.add("tag", at, {**fields, "artifact_id": artifact_id})


def untag(conn: Connection, pending: Pending, project: str, name: str, tag: str) -> None:
    at = pending.stamp(name_stamp(conn, project, name))
    if not untag_name(conn, project, name, tag, at):
        raise ArtifactNotFound(f"no tag {tag!r} on {artifact_uri(project, name)}")
    pending.add("untag", at, {"project": project, "name": name, "tag": tag})


def add_aspect(
    conn: Connection, pending: Pending, artifact_id: str, aspect: str, body: Any, json_schema: Any
) -> None:
    after = artifact_stamp(conn, artifact_id)
    if after is None:
        raise ArtifactNotFound(f"no artifact {artifact_id}")
    at = pending.stamp(after)
    insert_aspect(conn, artifact_id, aspect, body, json_schema, at)
    fields = {"artifact_id": artifact_id, "aspect": aspect}
    pending.add("aspect", at, {**fields, "body": body, "json_schema": json_schema})


def delete_rows(conn: Connection, pending: Pending, artifact_ids: Sequence[str]) -> None:
    """Artifacts' rows with their satellites, each leaving a tombstone record (so `reindex`
    keeps it deleted and never hands out its version again)."""
    a = t.artifacts
    rows = conn.execute(
        select(a.c.id, a.c.project, a.c.name, a.c.version, a.c.step_run_id, a.c.manifest)
        .where(a.c.id.in_(artifact_ids))
        .with_for_update()
    ).all()
    stamps = [artifact_stamp(conn, row.id) for row in rows]
    at = pending.stamp(max((s for s in stamps if s is not None), default=None))
    delete_artifacts(conn, artifact_ids)
    for row in rows:
        fields = {"project": row.project, "name": row.name, "version": row.version}
        # the step run that made it keeps its inputs: lineage of its other outputs
        made_by = {"step_run_id": row.step_run_id, "inputs": row.manifest["inputs"]}
        pending.add("delete", at, {"artifact_id": row.id, **fields, **made_by})


def trust_pickle(conn: Connection, artifact_id: str) -> None:
    """Not journaled: the journal is untrusted input, so no record can ever grant this."""
    a = t.artifacts
    done = conn.execute(update(a).where(a.c.id == artifact_id).values(pickle_trusted=True))
    if not done.rowcount:
        raise ArtifactNotFound(f"no artifact {artifact_id}")


def pickle_trusted(conn: Connection, artifact_id: str) -> bool:
    """Whether the row's bytes may be unpickled; `ArtifactNotFound` without a row."""
    a = t.artifacts
    row = conn.execute(select(a.c.pickle_trusted).where(a.c.id == artifact_id)).first()
    if row is None:
        raise ArtifactNotFound(f"no artifact {artifact_id}")
    return row.pickle_trusted is not False
