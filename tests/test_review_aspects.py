"""Hostile-review: aspect names by schema identifier (IVCAP's form)."""

from __future__ import annotations

import flow_artifacts as fa
from flow_artifacts.errors import FlowArtifactsError


def test_review_long_schema_identifier_is_refused_or_kept(stack):
    """`naming.SCHEMA_ID` accepts identifiers up to ~500 characters, the aspect column holds
    200 (VARCHAR(200)): PostgreSQL raised a raw DataError: either refuse it clearly up front or
    store it whole."""
    art = fa.materialize({"a": 1}, "m", "r1", "s", "demo", stack=stack)
    schema_id = "urn:ivcap:schema:" + "x" * 400
    try:
        art.add_metadata({"rows": 1}, schema=schema_id)
    except FlowArtifactsError:
        return
    assert schema_id in fa.get_artifact(art.id, stack=stack).aspects
