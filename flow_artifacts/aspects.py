"""Metadata aspects: typed records attached to an artifact, checked against a JSON Schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import MetadataValidationError


def aspect_schema(
    aspect: str, body: Any, schema: Mapping[str, Any] | str | None
) -> dict[str, Any] | str | None:
    """The schema `body` is recorded with: `schema`, else the body's own `$schema`.

    A JSON Schema (a mapping) is checked against first, and `MetadataValidationError` says where
    the body does not match. A string is a schema identifier (IVCAP writes
    `urn:ivcap:schema:...`): recorded as it is, since nothing here can fetch what it names.
    """
    effective: Any = schema
    if effective is None and isinstance(body, Mapping):
        effective = body.get("$schema")
    if effective is None:
        return None
    if isinstance(effective, str):
        if not effective.strip() or len(effective) > MAX_SCHEMA_ID:
            raise MetadataValidationError(
                f"the schema identifier of aspect {aspect!r} must be a non-empty string of at "
                f"most {MAX_SCHEMA_ID} characters, e.g. 'urn:example:schema:metrics.1'"
            )
        return effective
    if not isinstance(effective, Mapping):
        raise MetadataValidationError(
            f"the schema of aspect {aspect!r} must be a JSON Schema (a mapping) or a schema "
            f"identifier (a string), not {type(effective).__name__}"
        )
    _validate(aspect, body, effective)
    return dict(effective)


MAX_SCHEMA_ID = 2048


def named_by_schema(
    record: Any, schema: Mapping[str, Any] | str | None
) -> tuple[str, dict[str, Any]]:
    """IVCAP's call, `add_metadata(record, schema="urn:...")`: the aspect is named by the schema
    identifier given, else by the record's own `$schema`."""
    if not isinstance(record, Mapping):
        raise MetadataValidationError(
            "add_metadata needs an aspect name and a body, e.g. add_metadata('quality', "
            "{'rows': 10}), or a record (a mapping) named by its schema identifier, e.g. "
            "add_metadata({'rows': 10}, schema='urn:example:schema:quality.1')"
        )
    name = schema if isinstance(schema, str) else record.get("$schema")
    if not isinstance(name, str):
        raise MetadataValidationError(
            "a metadata record given without an aspect name is named by its schema identifier: "
            "pass schema='urn:...' or put '$schema': 'urn:...' in the record, or name the aspect: "
            "add_metadata('quality', record)"
        )
    return name, dict(record)


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
