"""Catalog-wide questions that maintenance asks: what is committed, tagged, needed, surplus."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from ..manifest import Manifest
from . import schema as t
from .catalog import Catalog
from .records import row_to_manifest

BATCH = 500


def committed_paths(catalog: Catalog, store_url: str) -> dict[str, str]:
    """Key -> data path of every artifact the catalog holds for one store."""
    query = select(t.artifacts.c.key, t.artifacts.c.data_path).where(
        t.artifacts.c.store_url == store_url
    )
    with catalog.engine.connect() as conn:
        return dict(conn.execute(query).all())


def tagged_ids(catalog: Catalog) -> set[str]:
    with catalog.engine.connect() as conn:
        return set(conn.execute(select(t.tags.c.artifact_id)).scalars())


def surplus_versions(
    catalog: Catalog, keep_last: int, project: str | None = None
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
    query = catalog._select().where(a.c.id.in_(surplus))
    with catalog.engine.connect() as conn:
        return [row_to_manifest(r) for r in conn.execute(query)]


def upstream_closure(catalog: Catalog, ids: Iterable[str]) -> set[str]:
    """Every artifact any of `ids` was produced from, at any depth (not `ids` themselves)."""
    frontier, seen = set(ids), set(ids)
    found: set[str] = set()
    while frontier:
        batch = list(frontier)
        frontier = set()
        for start in range(0, len(batch), BATCH):
            chunk = batch[start : start + BATCH]
            producers = select(t.artifacts.c.step_run_id).where(t.artifacts.c.id.in_(chunk))
            query = select(t.step_inputs.c.artifact_id).where(
                t.step_inputs.c.step_run_id.in_(producers)
            )
            with catalog.engine.connect() as conn:
                inputs = set(conn.execute(query).scalars())
            new = inputs - seen
            seen |= new
            found |= new
            frontier |= new
    return found
