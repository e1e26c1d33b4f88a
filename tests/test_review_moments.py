"""Hostile-review: times typed into filters at the edge of what datetime holds."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.cli.main import cli
from flow_artifacts.errors import FlowArtifactsError
from flow_artifacts.ui.app import create_app

EDGES = ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"]


@pytest.mark.parametrize("text", EDGES)
@pytest.mark.parametrize("path", ["/api/artifacts", "/api/runs"])
def test_review_page_since_at_datetime_edge_is_not_a_500(stack, text, path):
    fa.materialize({"a": 1}, "m", "r1", "s", "demo", stack=stack)
    with TestClient(
        create_app(stack), base_url="http://127.0.0.1", raise_server_exceptions=False
    ) as client:
        for name in ("since", "until"):
            response = client.get(path, params={name: text})
            assert response.status_code < 500, response.text


@pytest.mark.parametrize("text", EDGES)
def test_review_list_artifacts_since_at_datetime_edge(stack, text):
    """`fa.list_artifacts(since=...)`: a raw sqlalchemy StatementError (OverflowError)."""
    fa.materialize({"a": 1}, "m", "r1", "s", "demo", stack=stack)
    for name in ("since", "until"):
        try:
            list(fa.list_artifacts("demo", stack=stack, **{name: text}))
        except FlowArtifactsError:
            pass


@pytest.mark.parametrize("text", EDGES)
def test_review_cli_ls_since_at_datetime_edge(local_stack, text):
    """`flow-artifacts ls --since ...` prints 'StatementError: ... [SQL: SELECT ...]'."""
    fa.materialize({"a": 1}, "m", "r1", "s", "demo")
    result = CliRunner().invoke(cli, ["ls", "--since", text])
    assert "SQL" not in result.output and "StatementError" not in result.output, result.output
