"""Catalog queries of the browser: the searchable, sortable artifact list, and one run's row.

`Catalog.list_page` matches names exactly and orders by creation time only; the page needs a
search box and six sortable columns, so this module reads the catalog tables itself (read only).
Every order is a keyset over (sort key, id): page 2,000 costs what page 1 costs, and artifacts
written meanwhile never shift the pages after them. The first query reads only the sort key and
id; the full rows (with their manifest JSON) are fetched for the page's ids alone.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.sql.elements import ColumnElement

from ..catalog import Catalog, Page
from ..catalog import schema as t
from ..catalog.listing import Listing, after, listing
from ..catalog.records import ROW_COLUMNS, row_to_manifest
from ..catalog.runs import run_record
from .params import BadRequest, ListQuery

_LIKE_ESCAPE = "\\"


def sort_key(sort: str) -> ColumnElement[Any]:
    """The expression a listing is ordered by.

    `step` is the name of the producing step run, the `step` its manifest records; read through
    the step-run key rather than out of the manifest JSON, which costs 2.5x more per row."""
    a = t.artifacts
    if sort == "step":
        return func.coalesce(t.step_runs.c.step, "")
    return {
        "created": a.c.created,
        "name": a.c.name,
        "version": a.c.version,
        "kind": a.c.kind,
        "size": a.c.size,
    }[sort]


def list_artifacts(catalog: Catalog, query: ListQuery) -> Page:
    """One page of artifacts matching `query`, in its order; `next_cursor` continues it."""
    a = t.artifacts
    found = _matching(query)
    if query.sort == "created":  # the listing's own order: its index serves even a label filter
        key, tiebreak = found.created, found.id_column
    else:
        key, tiebreak = sort_key(query.sort), a.c.id
    conditions = found.conditions
    if query.cursor is not None:
        conditions.append(after(key, tiebreak, *decode_cursor(query), query.descending))
    if query.descending:
        order = (key.desc(), tiebreak.desc())
    else:
        order = (key.asc(), tiebreak.asc())
    source = found.source
    if query.sort == "step":
        source = source.outerjoin(t.step_runs, t.step_runs.c.id == a.c.step_run_id)
    keys_query = (
        select(a.c.id, key.label("sort_value"))
        .select_from(source)
        .where(*conditions)
        .order_by(*order)
        .limit(query.limit + 1)
    )
    with catalog.engine.connect() as conn:
        keys = conn.execute(keys_query).all()
        ids = [k.id for k in keys[: query.limit]]
        rows = conn.execute(select(*ROW_COLUMNS).where(a.c.id.in_(ids))).all() if ids else []
    by_id = {row.id: row_to_manifest(row) for row in rows}
    items = [by_id[i] for i in ids if i in by_id]
    more = len(keys) > query.limit
    return Page(items, encode_cursor(query, keys[query.limit - 1]) if more else None)


def _matching(query: ListQuery) -> Listing:
    a = t.artifacts
    found = listing(query.project, query.labels, query.since, query.until)
    if query.name is not None:
        pattern = "%" + _escape_like(query.name) + "%"
        found.conditions.append(a.c.name.ilike(pattern, escape=_LIKE_ESCAPE))
    if query.kind is not None:
        found.conditions.append(a.c.kind == query.kind)
    return found


def _escape_like(text: str) -> str:
    for char in (_LIKE_ESCAPE, "%", "_"):
        text = text.replace(char, _LIKE_ESCAPE + char)
    return text


def encode_cursor(query: ListQuery, row: Any) -> str:
    value = row.sort_value
    if isinstance(value, datetime):
        value = value.isoformat()
    order = "desc" if query.descending else "asc"
    raw = json.dumps([query.sort, order, value, row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(query: ListQuery) -> tuple[Any, str]:
    """The (sort value, id) a cursor continues after; it must come from the same order."""
    try:
        sort, order, value, last_id = json.loads(base64.urlsafe_b64decode(query.cursor or ""))
        if sort == "created":
            value = datetime.fromisoformat(value)
        expected = int if sort in ("version", "size") else datetime if sort == "created" else str
        if not isinstance(value, expected) or not isinstance(last_id, str):
            raise TypeError(f"a {sort} cursor holds a {type(value).__name__}")
    except (ValueError, TypeError) as exc:
        raise BadRequest(
            f"cursor {query.cursor!r:.40} is not one this API made; use a page's next_cursor"
        ) from exc
    if (sort, order) != (query.sort, "desc" if query.descending else "asc"):
        raise BadRequest(
            f"this cursor continues a listing sorted by {sort} {order}; "
            f"ask for sort={sort}&order={order}, or start again without a cursor"
        )
    return value, last_id


def run_row(catalog: Catalog, project: str, run_id: str) -> dict[str, Any] | None:
    """The run (project, run_id) as a dict, or None if the catalog has no such run."""
    query = select(t.runs).where(t.runs.c.project == project, t.runs.c.run_id == run_id)
    with catalog.engine.connect() as conn:
        row = conn.execute(query).first()
    return run_record(row, catalog.engine) if row is not None else None
