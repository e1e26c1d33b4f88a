"""Editing from the page's API (tag, untag, labels, description): only with --allow-delete,
journaled like the Python API, refused from other origins and for malformed bodies."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.ui.app import create_app

BASE = "http://127.0.0.1"


@pytest.fixture
def made(stack: fa.Stack) -> dict[str, Any]:
    one = fa.materialize({"v": 1}, "report", "r1", "eval", "demo", stack=stack)
    two = fa.materialize(
        {"v": 2}, "report", "r2", "eval", "demo", stack=stack, labels={"team": "risk"}
    )
    fa.tag(one, "prod", stack=stack)
    return {"one": one, "two": two}


@pytest.fixture
def editor(stack: fa.Stack, made: dict[str, Any]):
    with TestClient(create_app(stack, allow_delete=True), base_url=BASE) as client:
        yield client


def ops(stack: fa.Stack) -> list[str]:
    records, problems = stack.store.journal.read()
    assert problems == []
    return [r.op for r in records]


def test_a_read_only_browser_refuses_every_edit(stack, made):
    two = made["two"]
    with TestClient(create_app(stack), base_url=BASE) as client:
        refused = client.patch(f"/api/artifacts/{two.id}", json={"description": "x"})
        assert refused.status_code == 405 and "--allow-delete" in refused.json()["error"]
        assert client.put(f"/api/tags/{two.id}", json={"tag": "x"}).status_code in (404, 405)
    assert fa.get_artifact(two.id, stack=stack).description in (None, "")


def test_labels_description_and_tags_are_edited_and_journaled(stack, made, editor):
    one, two = made["one"], made["two"]
    before = ops(stack)
    changed = editor.patch(
        f"/api/artifacts/{two.id}",
        json={"labels": {"team": None, "stage": "gold"}, "description": "the v2 report"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["labels"] == {"stage": "gold"}
    again = fa.get_artifact(two.id, stack=stack)
    assert again.labels == {"stage": "gold"} and again.description == "the v2 report"

    moved = editor.put(f"/api/tags/{two.id}", json={"tag": "prod"})
    assert moved.json() == {"tag": "prod", "version": 2, "moved_from": 1}
    assert fa.get_artifact("store://demo/report:prod", stack=stack).id == two.id
    fresh = editor.put(f"/api/tags/{one.id}", json={"tag": "baseline"})
    assert fresh.json()["moved_from"] is None
    gone = editor.delete(f"/api/tags/{one.id}", params={"tag": "baseline"})
    assert gone.json() == {"untagged": "baseline", "version": 1}
    assert stack.catalog.tags(one.id) == []
    assert ops(stack)[len(before) :] == ["update", "tag", "tag", "untag"]


def test_untag_from_a_stale_page_leaves_a_tag_that_moved(stack, made, editor):
    one, two = made["one"], made["two"]
    fa.tag(two, "prod", stack=stack)  # moved by someone else after the page was drawn
    stale = editor.delete(f"/api/tags/{one.id}", params={"tag": "prod"})
    assert stale.status_code == 409 and "reload" in stale.json()["error"]
    assert stack.catalog.tags(two.id) == ["prod"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:9"},  # another port is another origin
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_changes_from_another_origin_are_refused(stack, made, editor, headers):
    one, two = made["one"], made["two"]
    journaled = ops(stack)
    attempts = [
        editor.patch(f"/api/artifacts/{two.id}", json={"description": "pwned"}, headers=headers),
        editor.put(f"/api/tags/{two.id}", json={"tag": "prod"}, headers=headers),
        editor.delete(f"/api/tags/{one.id}", params={"tag": "prod"}, headers=headers),
        editor.delete(f"/api/artifacts/{two.id}", headers=headers),
    ]
    assert [r.status_code for r in attempts] == [403] * 4
    assert "own page" in attempts[0].json()["error"]
    assert ops(stack) == journaled and stack.catalog.tags(one.id) == ["prod"]
    assert fa.get_artifact(two.id, stack=stack).description in (None, "")


def test_the_page_own_origin_is_accepted(stack, made, editor):
    two = made["two"]
    same = {"Origin": BASE, "Sec-Fetch-Site": "same-origin"}
    done = editor.patch(f"/api/artifacts/{two.id}", json={"description": "ok"}, headers=same)
    assert done.status_code == 200, done.text


@pytest.mark.parametrize(
    ("send", "status", "complaint"),
    [
        ({"content": "description=x", "headers": {"Content-Type": "text/plain"}}, 415, "JSON"),
        (
            {
                "content": "description=x",
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            },
            415,
            "JSON",
        ),
        ({"content": "{not json", "headers": {"Content-Type": "application/json"}}, 400, "JSON"),
        ({"json": ["description"]}, 400, "object"),
        ({"json": {}}, 400, "nothing to change"),
        ({"json": {"owner": "me"}}, 400, "unknown field"),
        ({"json": {"labels": "team=x"}}, 400, "labels"),
        ({"json": {"labels": {"team": 3}}}, 400, "labels"),
        ({"json": {"labels": {f"k{i}": "v" for i in range(101)}}}, 400, "labels"),
        ({"json": {"description": 7}}, 400, "description"),
        ({"json": {"labels": {"team": "a\x00b"}}}, 400, "NUL"),
        ({"json": {"labels": {"": "x"}}}, 400, "label"),
        ({"json": {"description": "x" * 70_000}}, 413, "KiB"),
    ],
)
def test_malformed_edits_are_refused_and_change_nothing(
    stack, made, editor, send, status, complaint
):
    two = made["two"]
    journaled = ops(stack)
    response = editor.patch(f"/api/artifacts/{two.id}", **send)
    assert response.status_code == status, response.text
    assert complaint in response.json()["error"]
    assert ops(stack) == journaled
    again = fa.get_artifact(two.id, stack=stack)
    assert again.labels == {"team": "risk"} and again.description in (None, "")


@pytest.mark.parametrize(
    "body", [{"tag": "7"}, {"tag": "has space"}, {"tag": "../up"}, {"tag": ""}, {"tag": 1}, {}]
)
def test_bad_tags_are_refused(stack, made, editor, body):
    two = made["two"]
    response = editor.put(f"/api/tags/{two.id}", json=body)
    assert response.status_code == 400, response.text
    assert stack.catalog.tags(two.id) == []


def test_edits_need_the_token_too(stack, made):
    two = made["two"]
    app = create_app(stack, allow_delete=True, token="t0ken")
    with TestClient(app, base_url=BASE) as client:
        denied = client.patch(f"/api/artifacts/{two.id}", json={"description": "x"})
        assert denied.status_code == 401
        allowed = client.patch(
            f"/api/artifacts/{two.id}",
            json={"description": "x"},
            headers={"Authorization": "Bearer t0ken"},
        )
        assert allowed.status_code == 200
