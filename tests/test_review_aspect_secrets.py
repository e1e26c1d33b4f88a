"""Hostile-review: an aspect named by its schema identifier (IVCAP's form) is a URL, which may
carry a password; URL passwords must never reach the catalog, journal or pages."""

from __future__ import annotations

import subprocess
from pathlib import Path

import flow_artifacts as fa
from flow_artifacts.errors import FlowArtifactsError

PASSWORD = "S3cretPassw0rd"


def test_review_schema_url_password_not_stored(local_stack, tmp_path: Path):
    art = fa.materialize({"a": 1}, "m", "r1", "s", "demo")
    try:
        art.add_metadata({"rows": 1}, schema=f"https://reader:{PASSWORD}@schemas.example/q.json")
    except FlowArtifactsError as exc:
        assert PASSWORD not in str(exc)
        return
    assert all(PASSWORD not in name for name in art.aspects)
    found = subprocess.run(
        ["grep", "-rl", PASSWORD, str(tmp_path)], capture_output=True, text=True
    ).stdout
    assert found == ""
