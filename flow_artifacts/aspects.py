"""Metadata aspects: typed records attached to an artifact, checked against a JSON Schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import MetadataValidationError


def aspect_schema(
    aspect: str, body: Any, schema: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The schema `body` is recorded with (`schema`, else the body's own `$schema`), after checking
    `body` against it; `MetadataValidationError` says where it does not match."""
    effective = schema
    if effective is None and isinstance(body, Mapping) and isinstance(body.get("$schema"), Mapping):
        effective = body["$schema"]
    if effective is None:
        return None
    _validate(aspect, body, effective)
    return dict(effective)


def _validate(aspect: str, body: Any, schema: Mapping[str, Any]) -> None:
    import jsonschema

    document = (
        {k: v for k, v in body.items() if k != "$schema"} if isinstance(body, Mapping) else body
    )
    try:
        jsonschema.validate(document, dict(schema))
    except jsonschema.ValidationError as exc:
        raise MetadataValidationError(
            f"metadata aspect {aspect!r} does not match its schema: {exc.message}"
        ) from exc
    except jsonschema.SchemaError as exc:
        raise MetadataValidationError(
            f"the JSON Schema given for aspect {aspect!r} is invalid: {exc.message}"
        ) from exc
