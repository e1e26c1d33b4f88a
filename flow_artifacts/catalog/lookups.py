"""Reads of single artifacts and their satellites: by reference, id or key; tags, aspects,
projects, counts, and what depends on an artifact. Each takes an open connection."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, func, select

from ..limits import MAX_VERSION
from ..manifest import Manifest
from ..naming import LATEST
from ..refs import Ref
from . import schema as t
from .database import chunked
from .records import MANIFEST_COLUMNS, ROW_COLUMNS, name_is, row_to_manifest

# Built once: building a statement costs more than SQLite running it.
_a = t.artifacts
_NAMED = and_(_a.c.project == bindparam("project"), _a.c.name == bindparam("name"))
_BY_ID = select(*MANIFEST_COLUMNS).where(_a.c.id == bindparam("id"))
_BY_IDS = select(*ROW_COLUMNS).where(_a.c.id.in_(bindparam("ids", expanding=True)))
_IDS_IN = select(_a.c.id).where(_a.c.id.in_(bindparam("ids", expanding=True)))
_BY_TAG = (
    select(*MANIFEST_COLUMNS)
    .join(t.tags, t.tags.c.artifact_id == _a.c.id)
    .where(t.tags.c.project == bindparam("project"), t.tags.c.name == bindparam("name"))
    .where(t.tags.c.tag == bindparam("tag"))
)
_BY_VERSION = select(*MANIFEST_COLUMNS).where(_NAMED, _a.c.version == bindparam("version"))
_LATEST = select(*MANIFEST_COLUMNS).where(_NAMED).order_by(_a.c.version.desc()).limit(1)


def artifact(conn: Connection, ref: Ref) -> Manifest | None:
    """The artifact a parsed reference names, or None: one indexed query, built once."""
    query = artifact_query(ref)
    row = None if query is None else conn.execute(*query).first()
    return None if row is None else row_to_manifest(row)


def artifact_query(ref: Ref) -> tuple[Select[Any], dict[str, Any]] | None:
    """The statement (built once) and parameters that find the row a parsed reference names;
    None if it can name none."""
    if ref.id:
        return _BY_ID, {"id": ref.id}
    if ref.tag and ref.tag != LATEST:
        return _BY_TAG, {"project": ref.project, "name": ref.name, "tag": ref.tag}
    if ref.version:
        if ref.version > MAX_VERSION:
            return None
        return _BY_VERSION, {"project": ref.project, "name": ref.name, "version": ref.version}
    return _LATEST, {"project": ref.project, "name": ref.name}


def by_ids(conn: Connection, ids: Sequence[str]) -> list[Manifest]:
    return [
        row_to_manifest(r)
        for part in chunked(ids)
        for r in conn.execute(_BY_IDS, {"ids": list(part)})
    ]


def at_keys(conn: Connection, store_id: str, keys: Sequence[str]) -> Manifest | None:
    """The artifact recorded at the first of `keys` in the store with id `store_id` (or in any
    store, for rows written before stores had ids)."""
    a = t.artifacts
    in_store = (a.c.store_id == store_id) | a.c.store_id.is_(None)
    query = select(*ROW_COLUMNS).where(in_store, a.c.key.in_(keys))
    found = {row.key: row_to_manifest(row) for row in conn.execute(query)}
    return next((found[key] for key in keys if key in found), None)


def existing_ids(conn: Connection, ids: Sequence[str]) -> set[str]:
    """Those of `ids` the catalog holds."""
    return {
        i for part in chunked(ids) for i in conn.execute(_IDS_IN, {"ids": list(part)}).scalars()
    }


def tags(conn: Connection, artifact_id: str) -> list[str]:
    query = select(t.tags.c.tag).where(t.tags.c.artifact_id == artifact_id)
    return sorted(conn.execute(query).scalars())


def tags_of_name(conn: Connection, project: str, name: str) -> dict[str, int]:
    """Tag -> version for every tag on any version of (project, name)."""
    query = (
        select(t.tags.c.tag, t.artifacts.c.version)
        .join(t.artifacts, t.artifacts.c.id == t.tags.c.artifact_id)
        .where(name_is(t.tags, project, name))
    )
    return {tag: version for tag, version in conn.execute(query)}


def projects(conn: Connection) -> list[str]:
    return list(conn.execute(select(t.projects.c.name).order_by(t.projects.c.name)).scalars())


def count(conn: Connection, project: str | None = None) -> int:
    query = select(func.count()).select_from(t.artifacts)
    if project is not None:
        query = query.where(t.artifacts.c.project == project)
    return conn.execute(query).scalar_one()


def aspects(conn: Connection, artifact_id: str) -> dict[str, Any]:
    """The latest record of each metadata aspect of an artifact."""
    query = (
        select(t.aspects.c.aspect, t.aspects.c.body)
        .where(t.aspects.c.artifact_id == artifact_id)
        .order_by(t.aspects.c.pk)
    )
    return {aspect: body for aspect, body in conn.execute(query)}


def dependents(conn: Connection, artifact_ids: Sequence[str]) -> list[Manifest]:
    """Artifacts (outside `artifact_ids`) produced by step runs that consumed one of them."""
    a = t.artifacts
    consumers = select(t.step_inputs.c.step_run_id).where(
        t.step_inputs.c.artifact_id.in_(artifact_ids)
    )
    query = select(*ROW_COLUMNS).where(a.c.step_run_id.in_(consumers), a.c.id.not_in(artifact_ids))
    return [row_to_manifest(r) for r in conn.execute(query)]


def next_version(conn: Connection, project: str, name: str) -> int:
    """The version the next write of (project, name) would get, unless another commits first."""
    n = t.artifact_names
    latest = conn.execute(select(n.c.latest_version).where(name_is(n, project, name))).scalar()
    return int(latest or 0) + 1


def nearby(conn: Connection, ref: Ref) -> str:
    """What exists near a reference that named nothing, for its not-found error: the projects
    or names it may have meant, or the versions and tags its name has."""
    if ref.id or ref.project is None or ref.name is None:
        return ""
    n = t.artifact_names
    names = list(conn.execute(select(n.c.name).where(n.c.project == ref.project)).scalars())
    if not names:
        return _did_you_mean(
            f"project {ref.project!r} has no artifacts", ref.project, projects(conn)
        )
    if ref.name not in names:
        return _did_you_mean(f"project {ref.project!r} has no name {ref.name!r}", ref.name, names)
    a = t.artifacts
    query = select(a.c.version).where(name_is(a, ref.project, ref.name)).order_by(a.c.version)
    versions = list(conn.execute(query).scalars())
    tags = sorted(tags_of_name(conn, ref.project, ref.name))
    shown = ", ".join(map(str, versions[-10:])) or "none (all deleted)"
    if len(versions) > 10:
        shown = f"..., {shown}"
    return f"versions: {shown}; tags: {', '.join(tags[:10]) or 'none'}"


def _did_you_mean(problem: str, typed: str, existing: Sequence[str]) -> str:
    close = difflib.get_close_matches(typed, existing, n=3)
    if close:
        return f"{problem}; did you mean {' or '.join(repr(c) for c in close)}?"
    return problem
