"""Hostile-review: the page's new label editor and credential-named labels."""

from __future__ import annotations

from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.ui.app import create_app

SECRET = "hunter2hunter2"


def test_review_page_label_named_password_is_masked(stack):
    """A URL password in a label value is masked (by structure), a label *named* password is
    stored and served as is: the catalog, journal and page then hold the secret."""
    art = fa.materialize({"a": 1}, "m", "r1", "s", "demo", stack=stack)
    with TestClient(create_app(stack, allow_delete=True), base_url="http://127.0.0.1") as client:
        response = client.patch(f"/api/artifacts/{art.id}", json={"labels": {"password": SECRET}})
        assert response.status_code < 500
        assert SECRET not in response.text
        assert SECRET not in client.get(f"/api/artifacts/{art.id}").text
