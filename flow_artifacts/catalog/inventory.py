"""Catalog-wide questions that maintenance asks, each on a connection: what is committed,
tagged, needed, surplus."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, func, or_, select, update

from ..manifest import MANIFEST_SUFFIX, Manifest
from . import schema as t
from .database import chunked
from .records import ROW_COLUMNS, row_to_manifest

BATCH = 500


def owned_files(conn: Connection, store_id: str) -> set[str]:
    """Every store-relative file a row of this store owns: its manifest, its data file, and
    each file a folder artifact's row lists. Rows from before store ids (NULL) count for any
    store: what cannot be placed is kept."""
    a = t.artifacts
    query = select(a.c.key, a.c.data_path, a.c.manifest).where(
        or_(a.c.store_id == store_id, a.c.store_id.is_(None))
    )
    owned: set[str] = set()
    for key, data_path, manifest in conn.execute(query):
        owned.add(key + MANIFEST_SUFFIX)
        owned.add(data_path)
        if manifest.get("directory"):
            owned.update(f"{data_path}/{rel}" for rel in manifest.get("files") or {})
    return owned


def legacy_rows(conn: Connection) -> list[tuple[str, str]]:
    """(id, key) of rows written before store ids, which no store has adopted yet."""
    query = select(t.artifacts.c.id, t.artifacts.c.key).where(t.artifacts.c.store_id.is_(None))
    return [(i, k) for i, k in conn.execute(query)]


def adopt_rows(conn: Connection, ids: Sequence[str], store_id: str) -> None:
    """Give rows from before store ids the id of the store where their manifest was found."""
    a = t.artifacts
    for chunk in chunked(ids, BATCH):
        conn.execute(
            update(a).where(a.c.id.in_(chunk), a.c.store_id.is_(None)).values(store_id=store_id)
        )


def tagged_ids(conn: Connection) -> set[str]:
    return set(conn.execute(select(t.tags.c.artifact_id)).scalars())


def surplus_versions(
    conn: Connection, keep_last: int, project: str | None = None
) -> list[Manifest]:
    """Versions older than the newest `keep_last` of each name."""
    a = t.artifacts
    rank = (
        func.row_number()
        .over(partition_by=(a.c.project, a.c.name), order_by=a.c.version.desc())
        .label("rank")
    )
    ranked = select(a.c.id, rank)
    if project is not None:
        ranked = ranked.where(a.c.project == project)
    ranked_sub = ranked.subquery()
    surplus = select(ranked_sub.c.id).where(ranked_sub.c.rank > keep_last)
    query = select(*ROW_COLUMNS).where(a.c.id.in_(surplus))
    return [row_to_manifest(r) for r in conn.execute(query)]


def upstream_closure(conn: Connection, ids: Iterable[str]) -> set[str]:
    """Every artifact any of `ids` was produced from, at any depth (not `ids` themselves)."""
    frontier, seen = set(ids), set(ids)
    found: set[str] = set()
    while frontier:
        batch = list(frontier)
        frontier = set()
        for chunk in chunked(batch, BATCH):
            producers = select(t.artifacts.c.step_run_id).where(t.artifacts.c.id.in_(chunk))
            query = select(t.step_inputs.c.artifact_id).where(
                t.step_inputs.c.step_run_id.in_(producers)
            )
            inputs = set(conn.execute(query).scalars())
            new = inputs - seen
            seen |= new
            found |= new
            frontier |= new
    return found
