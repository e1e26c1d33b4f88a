"""Query parameters of the browser's API, checked: anything malformed is a `BadRequest` (HTTP 400).

The checks live here, apart from the routes, so every endpoint rejects the same mistakes with the
same words, and the queries below them only ever see valid values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ..catalog import Search
from ..errors import InvalidMoment
from ..materializers.base import ArtifactKind
from ..moments import when_given

KINDS = tuple(kind.value for kind in ArtifactKind)
MAX_LIMIT = 200
MAX_DEPTH = 20


class BadRequest(ValueError):
    """A query parameter the API cannot use; the message says which and what it accepts."""


class Params(Protocol):
    """Starlette's `QueryParams`, or any multi-dict with the same two methods."""

    def get(self, key: str, /) -> str | None: ...

    def getlist(self, key: str, /) -> list[str]: ...


def list_query(params: Params) -> Search:
    """The artifact list's filters, sort order and cursor, as the catalog searches them."""
    return Search(
        project=text(params, "project"),
        name=text(params, "name"),
        kind=choice(params, "kind", KINDS),
        labels=labels(params.getlist("label")),
        since=moment(params, "since"),
        until=moment(params, "until"),
        sort=choice(params, "sort", Search.SORTS) or "created",
        descending=(choice(params, "order", ("asc", "desc")) or "desc") == "desc",
        limit=integer(params, "limit", 50, 1, MAX_LIMIT),
        cursor=text(params, "cursor"),
        latest=choice(params, "view", ("latest", "all")) == "latest",
        tag=text(params, "tag"),
        label_keys=label_keys(params.getlist("has")),
        text=text(params, "q"),
    )


def text(params: Params, name: str) -> str | None:
    """A stripped value, or None when absent or blank (an empty search box filters nothing)."""
    value = params.get(name)
    if value is None or not value.strip():
        return None
    if len(value) > 1000:
        raise BadRequest(f"{name} is longer than 1000 characters")
    return value.strip()


def choice(params: Params, name: str, allowed: tuple[str, ...]) -> str | None:
    value = text(params, name)
    if value is not None and value not in allowed:
        raise BadRequest(f"{name}={value!r:.60} is not one of: {', '.join(allowed)}")
    return value


def integer(params: Params, name: str, default: int, low: int, high: int) -> int:
    value = text(params, name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadRequest(f"{name}={value!r:.60} must be a whole number from {low} to {high}")
    return int(value)


def depth(params: Params, default: int = 3) -> int | None:
    """Lineage hops: a number, or `all` for the whole graph."""
    if text(params, "depth") == "all":
        return None
    return integer(params, "depth", default, 1, MAX_DEPTH)


def labels(values: list[str]) -> dict[str, str]:
    """`key=value` items, one per `label` parameter."""
    found: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadRequest(f"label {item!r:.60} is not key=value, e.g. label=team=risk")
        found[key.strip()] = value.strip()
    return found


def label_keys(values: list[str]) -> tuple[str, ...]:
    """Label keys an artifact must have (`has=team`), whatever their values; blanks ignored."""
    keys = tuple(value.strip() for value in values if value.strip())
    if any(len(key) > 1000 for key in keys):
        raise BadRequest("has is longer than 1000 characters")
    return keys


def moment(params: Params, name: str) -> datetime | None:
    """A time as the command line takes it (`2d`, `yesterday`, an ISO date or time, UTC when it
    names no zone): one parser, `moments.when_given`."""
    value = text(params, name)
    if value is None:
        return None
    try:
        return when_given(value, name)
    except InvalidMoment as exc:
        raise BadRequest(str(exc)) from None
