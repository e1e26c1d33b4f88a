"""The shape of a newest-first artifact listing: which index drives it, and its keyset cursor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause, tuple_

from . import schema as t


@dataclass
class Listing:
    """Artifacts matching the filters every listing shares, with the columns to order them by.

    Filtered by a label, the listing is driven by that label's rows, which carry the artifact's
    project and creation time: a page is then read off one index in order, however rare the
    label, instead of walking every artifact of the project to find matching ones.
    """

    source: FromClause
    created: ColumnElement[Any]
    id_column: ColumnElement[Any]
    conditions: list[ColumnElement[bool]] = field(default_factory=list)


def listing(
    project: str | None = None,
    labels: Mapping[str, str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Listing:
    a, label = t.artifacts, t.labels.alias("driving_label")
    wanted = [(key, str(value)) for key, value in (labels or {}).items()]
    if wanted:
        key, value = wanted.pop(0)
        matching = and_(label.c.artifact_id == a.c.id, label.c.key == key, label.c.value == value)
        found = Listing(a.join(label, matching), label.c.created, label.c.artifact_id)
        owner = label.c.project
    else:
        found = Listing(a, a.c.created, a.c.id)
        owner = a.c.project
    if project is not None:
        found.conditions.append(owner == project)
    for key, value in wanted:
        found.conditions.append(
            exists().where(
                t.labels.c.artifact_id == a.c.id, t.labels.c.key == key, t.labels.c.value == value
            )
        )
    if since is not None:
        found.conditions.append(found.created >= since)
    if until is not None:
        found.conditions.append(found.created < until)
    return found


def after(
    key: ColumnElement[Any],
    id_column: ColumnElement[Any],
    value: Any,
    last_id: str,
    descending: bool = True,
) -> Any:
    """Rows past (value, last_id) in (key, id) order: the keyset condition of a paged listing.

    A single row-value comparison, which SQLite and PostgreSQL answer with an index seek; the
    equivalent OR of two comparisons walks every row before the page (24 ms at 80,000 deep).
    """
    here = tuple_(key, id_column)
    there = tuple_(value, last_id, types=[key.type, id_column.type])
    return here < there if descending else here > there
