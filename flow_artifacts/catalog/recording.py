"""The rows a recorded artifact adds: its version from the (project, name) counter, its artifact
row and its label rows. `Catalog.record` and `Catalog.restore` run them inside their transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, func, update

from ..errors import InvalidName
from ..limits import MAX_VERSION, check_labels
from ..manifest import Manifest
from ..refs import artifact_uri
from . import schema as t
from .database import insert_ignore
from .records import insert_labels, name_is

_BUMP_VERSION = (
    update(t.artifact_names)
    .where(
        t.artifact_names.c.project == bindparam("p"),
        t.artifact_names.c.name == bindparam("n"),
        t.artifact_names.c.latest_version < MAX_VERSION,
    )
    .values(latest_version=t.artifact_names.c.latest_version + 1)
    .returning(t.artifact_names.c.latest_version)
)


def next_version(conn: Connection, project: str, name: str) -> int:
    """Increment the (project, name) counter; the row lock serializes concurrent writers."""
    params = {"p": project, "n": name}
    version = conn.execute(_BUMP_VERSION, params).scalar()
    if version is None:
        insert_ignore(
            conn, t.artifact_names, [{"project": project, "name": name, "latest_version": 0}]
        )
        version = conn.execute(_BUMP_VERSION, params).scalar()
    if version is None:
        raise InvalidName(
            f"{artifact_uri(project, name)} has reached version {MAX_VERSION}, the highest a "
            "name can have; write under another name"
        )
    return int(version)


def reserve_version(conn: Connection, project: str, name: str, version: int) -> None:
    """Make sure `version` of (project, name) is never handed out again."""
    insert_ignore(conn, t.artifact_names, [{"project": project, "name": name, "latest_version": 0}])
    latest = t.artifact_names.c.latest_version
    conn.execute(
        update(t.artifact_names)
        .where(name_is(t.artifact_names, project, name))
        .values(
            latest_version=func.max(latest, version)
            if conn.dialect.name == "sqlite"
            else func.greatest(latest, version)
        )
    )


def insert_artifact(
    conn: Connection,
    manifest: Manifest,
    store_url: str,
    store_id: str,
    pickle_trusted: bool | None = None,
) -> None:
    """The artifact row of a manifest given its version, with its label rows.

    `pickle_trusted` is False for a row restored from the store that nobody vouched for yet."""
    check_labels(manifest.labels)
    created = datetime.fromisoformat(manifest.created)
    conn.execute(
        t.artifacts.insert(),
        {
            "id": manifest.id,
            "project": manifest.project,
            "name": manifest.name,
            "version": manifest.version,
            "kind": manifest.kind,
            "materializer": manifest.materializer,
            "store_url": store_url,
            "store_id": store_id,
            "key": manifest.key,
            "data_path": manifest.data_path,
            "checksum": manifest.checksum,
            "size": manifest.size,
            "mime_type": manifest.mime_type,
            "labels": manifest.labels,
            "description": manifest.description,
            "user_metadata": manifest.user_metadata,
            "manifest": manifest.to_dict(),
            "created": created,
            "step_run_id": manifest.step_run_id,
            "status": "committed",
            "pickle_trusted": pickle_trusted,
        },
    )
    insert_labels(conn, manifest.id, manifest.labels, manifest.project, created)
