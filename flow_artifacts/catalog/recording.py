"""Recording artifacts, on a connection: a live write (`record`) and a manifest restored by
`reindex` (`restore`), with the rows they add: the version from the (project, name) counter, the
artifact row, its label rows and its lineage edges."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from ..errors import ArtifactNotFound, ConfigError, IntegrityError, InvalidName
from ..limits import MAX_VERSION, check_labels
from ..manifest import Manifest, ManifestJSON
from ..refs import artifact_uri
from . import schema as t
from .database import insert_ignore
from .driver_writes import execute
from .journaling import Pending
from .lookups import existing_ids
from .records import insert_labels, name_is
from .run_writes import Known, ensure_project, step_run_for

_INSERT_ARTIFACT = t.artifacts.insert()
_ID = select(t.artifacts.c.id).where(t.artifacts.c.id == bindparam("id"))


def record(
    conn: Connection,
    pending: Pending,
    known: Known,
    manifest: Manifest,
    *,
    store_url: str,
    store_id: str,
    publish: Callable[[Manifest], ManifestJSON | None],
    inputs: Sequence[str],
    step_run_id: str | None,
) -> Manifest:
    """Give `manifest` its version and step run, `publish` it, and add its rows (the row's
    manifest JSON is the one `publish` wrote, if it returns it).

    A step run created here (outside a pipeline) is journaled to `pending`."""
    if step_run_id is not None:
        _check_step_run(conn, known, manifest, step_run_id)
    sr_id = step_run_id or step_run_for(
        conn, known, manifest.project, manifest.run_id, manifest.step, pending=pending
    )
    missing = set(inputs) - existing_ids(conn, inputs) if inputs else set()
    if missing:
        raise ArtifactNotFound(
            f"input artifacts {sorted(missing)} of {manifest.name!r} are not in the catalog"
        )
    manifest.version = next_version(conn, manifest.project, manifest.name)
    manifest.step_run_id = sr_id
    manifest.inputs = list(dict.fromkeys(inputs))
    written = publish(manifest)
    ensure_project(conn, known, manifest.project)
    insert_artifact(conn, manifest, store_url, store_id, written=written)
    insert_ignore(
        conn, t.step_inputs, [{"step_run_id": sr_id, "artifact_id": i} for i in manifest.inputs]
    )
    return manifest


def restore(
    conn: Connection,
    known: Known,
    manifest: Manifest,
    store_url: str,
    store_id: str,
    trust_pickles: bool,
) -> bool:
    """A row for a manifest found in the store; False if already present. Its bytes may be
    unpickled only if `trust_pickles` (the store is untrusted input)."""
    if conn.execute(_ID, {"id": manifest.id}).first():
        return False
    sr_id = step_run_for(
        conn, known, manifest.project, manifest.run_id, manifest.step, manifest.step_run_id
    )
    manifest.step_run_id = sr_id
    ensure_project(conn, known, manifest.project)
    if manifest.version is None:
        manifest.version = next_version(conn, manifest.project, manifest.name)
    else:
        reserve_version(conn, manifest.project, manifest.name, manifest.version)
    a = t.artifacts
    holder = conn.execute(
        select(a.c.key).where(
            name_is(a, manifest.project, manifest.name), a.c.version == manifest.version
        )
    ).scalar()
    if holder is not None:
        uri = artifact_uri(manifest.project, manifest.name)
        raise IntegrityError(
            f"version {manifest.version} of {uri} "
            f"is already recorded for the artifact at {holder!r:.200}: two catalogs "
            "wrote this store? Not restored; load it by its store path"
        )
    insert_artifact(conn, manifest, store_url, store_id, pickle_trusted=trust_pickles)
    return True


def restore_inputs(conn: Connection, manifest: Manifest) -> None:
    """Lineage edges of a restored manifest to those of its inputs the catalog holds."""
    if not manifest.inputs or manifest.step_run_id is None:
        return
    present = existing_ids(conn, manifest.inputs)
    insert_ignore(
        conn,
        t.step_inputs,
        [{"step_run_id": manifest.step_run_id, "artifact_id": i} for i in present],
    )


def next_version(conn: Connection, project: str, name: str) -> int:
    """Increment the (project, name) counter, created at 1 if new, in one statement; its row
    lock serializes concurrent writers, so versions have no gaps and no repeats."""
    row = execute(conn, _bump_version(conn.dialect.name), {"project": project, "name": name})
    if row is None:
        raise InvalidName(
            f"{artifact_uri(project, name)} has reached version {MAX_VERSION}, the highest a "
            "name can have; write under another name"
        )
    return int(row.latest_version)


@functools.cache
def _bump_version(dialect: str) -> Any:
    """Built once per dialect: an upsert that counts up, refusing past `MAX_VERSION`."""
    from sqlalchemy.dialects import postgresql, sqlite

    n = t.artifact_names
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    new = insert(n).values(project=bindparam("project"), name=bindparam("name"), latest_version=1)
    return new.on_conflict_do_update(
        index_elements=[n.c.project, n.c.name],
        set_={"latest_version": n.c.latest_version + 1},
        where=n.c.latest_version < MAX_VERSION,
    ).returning(n.c.latest_version)


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
    written: ManifestJSON | None = None,
) -> None:
    """The artifact row of a manifest given its version, with its label rows; its manifest JSON
    is the manifest file's (`written`, when the caller just wrote it).

    `pickle_trusted` is False for a row restored from the store that nobody vouched for yet."""
    check_labels(manifest.labels)
    created = datetime.fromisoformat(manifest.created)
    execute(
        conn,
        _INSERT_ARTIFACT,
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
            "manifest": written if written is not None else manifest.encoded(),
            "created": created,
            "step_run_id": manifest.step_run_id,
            "step": manifest.step if manifest.step_run_id else "",
            "status": "committed",
            "pickle_trusted": pickle_trusted,
        },
    )
    insert_labels(conn, manifest.id, manifest.labels, manifest.project, created)


def _check_step_run(conn: Connection, known: Known, manifest: Manifest, step_run_id: str) -> None:
    """A given step run must be the one the manifest names (project, run, step): rows linked to
    another would disagree with what the store rebuilds. A step run this process opened is known."""
    where = (manifest.project, manifest.run_id, manifest.step)
    if known.step_runs.get(where) == step_run_id:
        return
    found = conn.execute(
        select(t.runs.c.project, t.runs.c.run_id, t.step_runs.c.step)
        .join(t.runs, t.runs.c.pk == t.step_runs.c.run_pk)
        .where(t.step_runs.c.id == step_run_id)
    ).first()
    if found is None or tuple(found) != where:
        raise ConfigError(
            f"step run {step_run_id[:80]!r} is not step {manifest.step!r} of run "
            f"{manifest.run_id!r} in project {manifest.project!r}: pass the id of that step's "
            "run, or none to record one"
        )
