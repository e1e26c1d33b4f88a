"""Edits from the page: tag, untag, labels and description, through the public manage functions
(so each is validated and journaled exactly as `fa.tag`, `fa.untag` and `fa.update` are).

Only routed when the browser was started with `--allow-delete`. Bodies are JSON only (a form on
another site cannot send that without a CORS preflight this server never grants), bounded in size,
and checked here so a malformed one is a 400 naming the field.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from ..artifact import Artifact
from ..errors import UnsupportedOperation
from ..manage import tag, untag, update
from ..stack import Stack
from .params import BadRequest

MAX_BODY = 64 << 10
MAX_LABELS = 100


class TooLarge(BadRequest):
    """A body over `MAX_BODY` (HTTP 413)."""


class NotJson(BadRequest):
    """A body that is not `application/json` (HTTP 415)."""


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, read up to `MAX_BODY` bytes."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise NotJson("send the edit as JSON (Content-Type: application/json)")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise TooLarge(f"the request body is over {MAX_BODY // 1024} KiB")
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def patch(stack: Stack, art: Artifact, body: dict[str, Any]) -> Artifact:
    """`{"labels": {key: value or null}, "description": text}`: either or both."""
    unknown = sorted(set(body) - {"labels", "description"})
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r:.60}; edit labels or description")
    labels = body.get("labels")
    description = body.get("description")
    if labels is not None and not (
        isinstance(labels, dict)
        and len(labels) <= MAX_LABELS
        and all(isinstance(v, str) or v is None for v in labels.values())
    ):
        raise BadRequest(
            f"labels must be an object of at most {MAX_LABELS} key: text (or null to remove)"
        )
    if description is not None and not isinstance(description, str):
        raise BadRequest("description must be text")
    if labels is None and description is None:
        raise BadRequest("nothing to change: send labels or description")
    return update(art, labels=labels, description=description, stack=stack)


def add_tag(stack: Stack, art: Artifact, body: dict[str, Any]) -> dict[str, Any]:
    """`{"tag": name}` put on this version; says which version it moved from, if any."""
    name = body.get("tag")
    if not isinstance(name, str) or set(body) != {"tag"}:
        raise BadRequest('send {"tag": "name"}')
    before = stack.catalog.tags_of_name(art.project, art.name).get(name)
    tag(art, name, stack=stack)
    moved = before if before is not None and before != art.version else None
    return {"tag": name, "version": art.version, "moved_from": moved}


def remove_tag(stack: Stack, art: Artifact, name: str | None) -> dict[str, Any]:
    """Takes `name` off this version; refuses when it is on another (it moved since the page
    was drawn), so a stale page never removes a tag from a version it did not show it on."""
    if not name:
        raise BadRequest("name the tag to remove: ?tag=NAME")
    if name not in stack.catalog.tags(art.id):
        raise UnsupportedOperation(
            f"tag {name!r:.60} is not on {art.uri}; reload the page to see where it is"
        )
    untag(art, name, stack=stack)
    return {"untagged": name, "version": art.version}
