"""Hostile-review: the page's new endpoints on hostile stored content and requests."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.ui.app import create_app


@pytest.fixture
def client(stack: fa.Stack):
    with TestClient(
        create_app(stack), base_url="http://127.0.0.1", raise_server_exceptions=False
    ) as client:
        yield client


def test_review_deeply_nested_json_report_is_not_metrics(stack, client, tmp_path: Path):
    """A small .json file nested deeply is 'not a metrics report', not a server error."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 20000 + "]" * 20000)
    art = fa.upload_file(deep, "deep", "files", stack=stack)
    response = client.get(f"/api/metrics/{art.id}")
    assert response.status_code == 200, response.text
    assert response.json()["metrics"] is None
