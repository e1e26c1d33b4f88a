"""The artifact browser's JSON API, called as the page calls it, on SQLite and PostgreSQL."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.ui.app import create_app

FRAME = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})


def png(width: int = 8, height: int = 8) -> bytes:
    """A small red PNG, made without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xdc\x26\x26" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def populate(stack: fa.Stack, folder: Path) -> dict[str, Any]:
    """Two runs of a 3-step pipeline (the second a cache hit on `prep`), plus one artifact of
    each other kind the page previews; returns the handles by name."""

    @fa.step(outputs="raw")
    def ingest() -> dict:
        return {"rows": 3, "source": "unit test"}

    @fa.step(outputs="clean", cache=True)
    def prep(raw: dict) -> pd.DataFrame:
        return FRAME

    @fa.step(outputs="summary")
    def summarize(clean: pd.DataFrame) -> dict:
        return {"mean_a": float(clean["a"].mean())}

    @fa.pipeline(project="demo")
    def flow() -> Any:
        return summarize(prep(ingest()))

    with fa.use_stack(stack):
        first, second = flow(), flow()
    made: dict[str, Any] = {"first": first, "second": second}
    made["clean"] = fa.update(first.artifacts["clean"], labels={"team": "risk"}, stack=stack)
    made["raw"] = first.artifacts["raw"]
    made["summary"] = first.artifacts["summary"]
    fa.tag(made["clean"], "prod", stack=stack)
    fa.add_metadata(made["clean"], "quality", {"score": 0.9}, stack=stack)
    (folder / "logo.png").write_bytes(png(64, 48))
    (folder / "notes.txt").write_text("first line\nsecond line\n")
    (folder / "tree").mkdir()
    (folder / "tree" / "a.txt").write_text("a")
    for name in ("logo.png", "notes.txt", "tree"):
        made[name] = fa.upload_file(folder / name, name.split(".")[0], "files", stack=stack)
    made["model"] = fa.materialize({"a": {1, 2}}, "model", "m1", "train", "files", stack=stack)
    made["array"] = fa.materialize(
        np.arange(6).reshape(2, 3), "array", "m1", "train", "files", stack=stack
    )
    return made


@pytest.fixture
def demo(stack: fa.Stack, tmp_path: Path) -> dict[str, Any]:
    return populate(stack, tmp_path)


@pytest.fixture
def client(stack: fa.Stack, demo: dict[str, Any]):
    with TestClient(create_app(stack), base_url="http://127.0.0.1") as client:
        yield client


def get(client: TestClient, url: str, status: int = 200, **params: Any) -> Any:
    response = client.get(url, params=params)
    assert response.status_code == status, response.text
    return response.json()


def uris(page: dict[str, Any]) -> list[str]:
    return [item["uri"] for item in page["items"]]


def test_list_filters_by_project_name_kind_label_and_time(client, demo):
    assert get(client, "/api/info")["projects"] == ["demo", "files"]
    assert uris(get(client, "/api/artifacts", label="team=risk")) == ["store://demo/clean@1"]
    assert set(uris(get(client, "/api/artifacts", name="LEA"))) == {"store://demo/clean@1"}
    assert {i["kind"] for i in get(client, "/api/artifacts", kind="dataset")["items"]} == {
        "dataset"
    }
    demo_page = get(client, "/api/artifacts", project="demo")
    assert len(demo_page["items"]) == 5 and demo_page["next_cursor"] is None
    assert len(get(client, "/api/artifacts")["items"]) == 10
    created = demo["clean"].created.isoformat()
    assert uris(
        get(
            client,
            "/api/artifacts",
            project="demo",
            since=created,
            until=demo["summary"].created.isoformat(),
        )
    ) == ["store://demo/clean@1"]
    assert get(client, "/api/artifacts", name="100%_")["items"] == []


@pytest.mark.parametrize("sort", ["created", "name", "version", "kind", "size", "step"])
@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("merged", [64, 1], ids=["merged", "sorted"])
def test_every_sort_pages_through_everything_in_order(client, sort, order, merged, monkeypatch):
    """All projects' list in any order, whether merged from each project's pages (a few
    projects) or sorted whole (more than `MERGED_PROJECTS`; here 2 projects over a limit of 1)."""
    monkeypatch.setattr("flow_artifacts.catalog.search.MERGED_PROJECTS", merged)
    everything = get(client, "/api/artifacts", limit=200)["items"]
    key = {"step": lambda i: (i["step"], i["id"])}.get(sort, lambda i: (i[sort], i["id"]))
    expected = [i["id"] for i in sorted(everything, key=key, reverse=order == "desc")]
    seen, cursor = [], None
    while True:
        page = get(client, "/api/artifacts", sort=sort, order=order, limit=3, cursor=cursor)
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "many"},
        {"limit": "201"},
        {"kind": "spreadsheet"},
        {"sort": "colour"},
        {"order": "up"},
        {"label": "team"},
        {"label": "=risk"},
        {"since": "yesterday-ish"},
        {"since": "2x"},
        {"q": "x" * 1001},
        {"has": "k" * 1001},
        {"tag": "t" * 1001},
        {"until": "2024-13-01"},
        {"cursor": "not-a-cursor"},
    ],
)
def test_malformed_list_parameters_are_400(client, params):
    response = client.get("/api/artifacts", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400 and "Traceback" not in body["error"]
    assert next(iter(params)) in body["error"]


def test_other_malformed_parameters_are_400(client, demo):
    clean = demo["clean"].id
    cursor = get(client, "/api/artifacts", limit=1)["next_cursor"]
    wrong = client.get("/api/artifacts", params={"sort": "name", "limit": 1, "cursor": cursor})
    assert wrong.status_code == 400 and "sorted by created" in wrong.json()["error"]
    for url, params in [
        (f"/api/lineage/{clean}", {"depth": "0"}),
        (f"/api/lineage/{clean}", {"depth": "deep"}),
        (f"/api/versions/{clean}", {"cursor": "x"}),
        (f"/api/content/{clean}", {"inline": "yes"}),
        ("/api/runs", {"limit": "-1"}),
    ]:
        response = client.get(url, params=params)
        assert response.status_code == 400, (url, params, response.text)


def test_artifact_detail_has_every_field_tags_aspects_and_versions(client, demo):
    clean = demo["clean"]
    for ref in (clean.id, clean.urn, "demo/clean@1", "demo/clean:prod", "store://demo/clean"):
        assert get(client, f"/api/artifacts/{ref}")["id"] == clean.id
    detail = get(client, f"/api/artifacts/{clean.id}")
    assert set(clean.manifest.to_dict()) - {"files", "created"} <= set(detail)
    assert detail["uri"] == "store://demo/clean@1" and detail["urn"] == clean.urn
    assert detail["checksum"] == clean.checksum and detail["labels"] == {"team": "risk"}
    assert detail["tags"] == ["prod"] and detail["aspects"] == {"quality": {"score": 0.9}}
    assert detail["metadata"]["schema"][0] == {"name": "a", "type": "int64"}
    assert [(v["version"], v["tags"]) for v in detail["versions"]["items"]] == [(1, ["prod"])]
    assert detail["producer"]["step"] == "prep" and detail["producer"]["status"] == "completed"
    raw = get(client, f"/api/artifacts/{demo['raw'].id}")
    assert raw["versions"]["items"][0]["version"] == 2  # the second run wrote raw@2
    assert get(client, f"/api/versions/{demo['raw'].id}", cursor="2")["items"][0]["version"] == 1


def test_previews_of_each_kind(client, demo):
    def preview(name: str) -> dict[str, Any]:
        return get(client, f"/api/preview/{demo[name].id}")

    table = preview("clean")
    assert table["type"] == "table" and table["columns"] == ["a", "b"]
    assert table["rows"][0] == [1, "x"] and table["total_rows"] == 3
    assert {"name": "b", "type": "large_string"} in table["schema"]
    report = preview("raw")
    assert report["type"] == "json" and report["text"].startswith('{\n  "rows": 3')
    image = preview("logo.png")
    assert image["type"] == "image"
    shown = client.get(image["src"])
    assert shown.headers["content-type"] == "image/png" and shown.content == png(64, 48)
    assert "sandbox" in shown.headers["content-security-policy"]
    assert preview("notes.txt") == {
        "type": "text",
        "text": "first line\nsecond line\n",
        "truncated": False,
        "shown_bytes": 23,
    }
    assert preview("tree") == {
        "type": "directory",
        "files": [{"path": "a.txt", "size": 1}],
        "count": 1,
    }
    assert "runs code" in preview("model")["message"]
    assert "NumPy array of shape 2 x 3" in preview("array")["message"]


def test_download_streams_the_verified_bytes(client, demo):
    clean = demo["clean"]
    response = client.get(f"/api/content/{clean.id}")
    assert response.status_code == 200
    assert response.content == Path(clean.path).read_bytes()
    assert (
        response.headers["content-disposition"] == "attachment; filename*=UTF-8''clean-v1.parquet"
    )
    assert response.headers["x-checksum"] == clean.checksum
    logo = client.get(f"/api/content/{demo['logo.png'].id}")
    assert logo.headers["content-disposition"].endswith("''logo.png")
    directory = client.get(f"/api/content/{demo['tree'].id}")
    assert directory.status_code == 409 and "flow-artifacts get" in directory.json()["error"]


def test_lineage_graph_joins_upstream_and_downstream(client, demo):
    graph = get(client, f"/api/lineage/{demo['clean'].id}")
    labels = {n["id"]: n["label"] for n in graph["nodes"]}
    edges = {(labels[e["source"]], labels[e["target"]]) for e in graph["edges"]}
    assert {
        ("ingest", "raw@1"),
        ("raw@1", "prep"),
        ("prep", "clean@1"),
        ("clean@1", "summarize"),
    } <= edges
    root = [n for n in graph["nodes"] if n.get("root")]
    assert [n["id"] for n in root] == [demo["clean"].id]
    steps = {n["label"]: n for n in graph["nodes"] if n["type"] == "step"}
    assert steps["prep"]["run_id"] == demo["first"].id and steps["prep"]["cached"] is False
    shallow = get(client, f"/api/lineage/{demo['clean'].id}", depth="1")
    assert {n["label"] for n in shallow["nodes"]} < set(labels.values())
    assert len(get(client, f"/api/lineage/{demo['clean'].id}", depth="all")["nodes"]) >= len(
        graph["nodes"]
    )


def test_runs_show_steps_status_duration_cache_hits_inputs_outputs(client, demo):
    runs = get(client, "/api/runs", project="demo")["items"]
    assert [r["run_id"] for r in runs] == [demo["second"].id, demo["first"].id]
    second = get(client, f"/api/runs/demo/{demo['second'].id}")
    assert second["status"] == "completed" and second["cache_hits"] == 1
    steps = {s["step"]: s for s in second["steps"]}
    assert steps["prep"]["cached"] is True and steps["ingest"]["cached"] is False
    assert all(s["duration_s"] is not None and s["duration_s"] >= 0 for s in steps.values())
    assert [a["uri"] for a in steps["prep"]["outputs"]] == ["store://demo/clean@1"]
    assert steps["prep"]["reused_from"]["run_id"] == demo["first"].id
    assert steps["ingest"]["reused_from"] is None
    assert [a["uri"] for a in steps["summarize"]["inputs"]] == ["store://demo/clean@1"]


def test_missing_things_are_404_pages_and_json(client, demo):
    missing = "00000000-0000-4000-8000-000000000000"
    for url in (
        f"/api/artifacts/{missing}",
        "/api/artifacts/demo/nothing",
        f"/api/preview/{missing}",
        f"/api/lineage/{missing}",
        f"/api/content/{missing}",
        "/api/artifacts/not-an-id",
        "/api/runs/demo/no-such-run",
        "/api/nothing",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["status"] == 404
    for url in (
        f"/artifacts/{missing}",
        f"/lineage/{missing}",
        "/artifacts/demo/clean@9",
        "/runs/demo/no-such-run",
        "/no/such/page",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.headers["content-type"].startswith("text/html")
        assert "<h1>404 Not Found</h1>" in response.text or "404 Not found" in response.text
    assert client.get(f"/artifacts/{demo['clean'].id}").status_code == 200
    assert client.get(f"/runs/demo/{demo['first'].id}").status_code == 200


def test_read_only_unless_allow_delete(stack, demo):
    clean, summary = demo["clean"], demo["summary"]
    with TestClient(create_app(stack), base_url="http://127.0.0.1") as client:
        refused = client.delete(f"/api/artifacts/{summary.id}")
        assert refused.status_code == 405 and "--allow-delete" in refused.json()["error"]
        assert client.post("/api/artifacts").status_code == 405
    with TestClient(create_app(stack, allow_delete=True), base_url="http://127.0.0.1") as client:
        assert get(client, "/api/info")["allow_delete"] is True
        in_use = client.delete(f"/api/artifacts/{clean.id}")
        assert in_use.status_code == 409 and "lineage" in in_use.json()["error"]
        assert client.delete(f"/api/artifacts/{summary.id}").json() == {"deleted": [summary.id]}
        assert client.get(f"/api/artifacts/{summary.id}").status_code == 404


def test_token_is_required_by_header_cookie_or_query_once(stack, demo):
    app = create_app(stack, token="t0ken")
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as client:
        for url in ("/api/info", "/static/js/app.js"):
            denied = client.get(url)
            assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
        page = client.get("/")
        assert page.status_code == 401 and "token" in page.text
        assert client.get("/api/info", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/api/info", headers={"Authorization": "Bearer t0ken"}).status_code == 200
        swap = client.get("/", params={"project": "demo", "token": "t0ken"})
        assert swap.status_code == 303 and swap.headers["location"] == "/?project=demo"
        assert (
            "HttpOnly" in swap.headers["set-cookie"]
            and "samesite=strict" in swap.headers["set-cookie"].lower()
        )
        assert client.get("/api/info").status_code == 200  # the cookie from the swap


def test_requests_for_other_hosts_are_refused(client):
    assert client.get("/api/info", headers={"Host": "evil.example"}).status_code == 400


def test_an_unexpected_error_is_one_line_without_traceback(stack, demo, monkeypatch):
    from flow_artifacts.ui import views

    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "artifact_detail", broken)
    app = create_app(stack)
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        response = client.get(f"/api/artifacts/{demo['clean'].id}")
    assert response.status_code == 500
    assert response.json()["error"] == "unexpected RuntimeError; the server log has the details"


def test_compare_two_versions_as_the_cli_does(client, demo):
    found = get(client, "/api/compare", a="demo/raw@1", b="demo/raw@2")
    assert (found["a"]["ref"], found["b"]["ref"]) == ("demo/raw@1", "demo/raw@2")
    fields = {f["field"]: f for f in found["fields"]}
    assert fields["checksum"]["same"] and fields["size"]["same"]
    assert found["content"] == {"changes": [], "truncated": False, "same": True}
    assert found["producer"]["a"]["run_id"] == demo["first"].id
    versus = get(client, "/api/compare", a=demo["clean"].id, b="demo/summary@1")
    assert versus["fields"][0] == {"field": "kind", "a": "dataset", "b": "report", "same": False}
    assert versus["schema"]["removed"][0]["name"] == "a" and versus["content"] is None
    assert versus["tags"] == {"a": ["prod"], "b": []}
    assert versus["aspects"]["changes"][0]["path"] == "quality"
    assert "compare needs two" in get(client, "/api/compare", 400, a="demo/raw@1")["error"]
    assert get(client, "/api/compare", 404, a="demo/raw@1", b="demo/raw@9")["status"] == 404
    assert get(client, "/api/compare", 404, a="demo/raw@1", b="../etc")["status"] == 404


def test_artifact_detail_names_its_inputs_and_what_used_it(client, demo):
    clean = get(client, f"/api/artifacts/{demo['clean'].id}")
    assert [i["ref"] for i in clean["input_artifacts"]] == ["demo/raw@1"]
    assert [u["ref"] for u in clean["used_by"]] == ["demo/summary@1", "demo/summary@2"]
    assert clean["used_by_count"] == 2
    raw = get(client, "/api/artifacts/demo/raw@1")
    assert raw["input_artifacts"] == [] and [u["ref"] for u in raw["used_by"]] == ["demo/clean@1"]


def test_runs_page_through_with_status_and_pipeline_filters(client, stack, demo):
    @fa.step(outputs="x")
    def boom() -> dict:
        raise RuntimeError("no")

    @fa.pipeline(project="demo")
    def other() -> Any:
        return boom()

    with fa.use_stack(stack), pytest.raises(RuntimeError):
        other()
    seen, cursor = [], None
    while True:
        page = get(client, "/api/runs", project="demo", limit=1, cursor=cursor)
        seen += [r["run_id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 3 == len(set(seen)) and seen[1:] == [demo["second"].id, demo["first"].id]
    failed = client.get("/api/runs", params={"status": "failed"}).json()["items"]
    assert [(r["pipeline"], r["status"]) for r in failed] == [("other", "failed")]
    assert get(client, "/api/runs", pipeline="flow")["items"][0]["run_id"] == demo["second"].id
    assert get(client, "/api/runs", pipeline="nope")["items"] == []
    weird = client.get("/api/runs", params={"status": "weird"})
    assert weird.status_code == 400 and "status=" in weird.json()["error"]
    assert get(client, "/api/runs", 400, cursor="garbage")["status"] == 400


def test_latest_view_keeps_one_row_per_name_with_version_count_and_tags(client, stack, demo):
    info = get(client, "/api/info")
    assert info["project_counts"] == {"demo": 5, "files": 5}
    latest = get(client, "/api/artifacts", project="demo", view="latest")["items"]
    rows = {i["name"]: i for i in latest}
    assert {(n, r["version"], r["version_count"]) for n, r in rows.items()} == {
        ("raw", 2, 2),
        ("clean", 1, 1),
        ("summary", 2, 2),
    }
    assert rows["clean"]["name_tags"] == {"prod": 1}
    fa.tag(demo["raw"], "gold", stack=stack)  # an older version's tag shows on the name's row
    fa.delete(f"{demo['raw'].project}/raw@2", stack=stack)  # the one before becomes latest
    rows = {
        i["name"]: i for i in get(client, "/api/artifacts", project="demo", view="latest")["items"]
    }
    assert (rows["raw"]["version"], rows["raw"]["version_count"]) == (1, 1)
    assert rows["raw"]["name_tags"] == {"gold": 1}
    for scope in ({"project": "demo"}, {}):  # by name, each name joined to its newest version
        newest = {i["id"] for i in get(client, "/api/artifacts", view="latest", **scope)["items"]}
        for order in ("asc", "desc"):
            query = {"view": "latest", "sort": "name", "order": order, **scope}
            by_name = get(client, "/api/artifacts", **query)["items"]
            assert {i["id"] for i in by_name} == newest
            names = [i["name"] for i in by_name]
            assert names == sorted(names, reverse=order == "desc")
    every = get(client, "/api/artifacts", project="demo", view="all", sort="name", order="asc")
    assert len(every["items"]) == 4
    paged = get(client, "/api/artifacts", view="latest", sort="name", order="asc", limit=2)
    rest = get(client, "/api/artifacts", view="latest", sort="name", order="asc", limit=50,
               cursor=paged["next_cursor"])  # fmt: skip
    names = [i["name"] for i in paged["items"] + rest["items"]]
    assert len(names) == len(set(names)) == 8
    assert "view=" in get(client, "/api/artifacts", 400, view="newest")["error"]


def test_compare_two_runs_as_the_cli_does(client, demo):
    first, second = demo["first"].id, demo["second"].id
    found = get(client, "/api/compare", runs="1", a=f"demo/{first}", b=second[:8])
    assert (found["a"]["run_id"], found["b"]["run_id"]) == (first, second)
    steps = {s["step"]: s for s in found["steps"]}
    assert steps["prep"]["a"]["cached"] is False and steps["prep"]["b"]["cached"] is True
    assert get(client, "/api/compare", 404, runs="1", a=first, b="nope")["status"] == 404
    assert "compare needs two runs" in get(client, "/api/compare", 400, runs="1", a=first)["error"]


def test_list_filters_by_tag_label_key_text_and_relative_time(client, demo, stack):
    fa.update(demo["raw"], description="Numbers FROM the source", stack=stack)
    assert uris(get(client, "/api/artifacts", tag="prod")) == ["store://demo/clean@1"]
    assert uris(get(client, "/api/artifacts", has="team")) == ["store://demo/clean@1"]
    assert get(client, "/api/artifacts", has="nobody")["items"] == []
    assert uris(get(client, "/api/artifacts", q="from the")) == ["store://demo/raw@1"]
    assert uris(get(client, "/api/artifacts", q="RISK")) == ["store://demo/clean@1"]  # a label
    assert get(client, "/api/artifacts", q="%")["items"] == []  # a character, not a wildcard
    assert len(get(client, "/api/artifacts", since="1h")["items"]) == 10
    assert len(get(client, "/api/artifacts", since="today", until="now")["items"]) == 10
    assert get(client, "/api/artifacts", until="1d")["items"] == []
    runs = get(client, "/api/runs", since="2d")["items"]
    assert runs == get(client, "/api/runs")["items"] and len(runs) == 6
    assert get(client, "/api/runs", until="yesterday")["items"] == []
    bad = client.get("/api/runs", params={"since": "2 fortnights"})
    assert bad.status_code == 400 and "since '2 fortnights' is not a time" in bad.json()["error"]
