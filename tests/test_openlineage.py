"""OpenLineage events as steps run, received by a real HTTP server and validated against the
OpenLineage JSON Schema (vendored in tests/openlineage_spec with its license)."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from referencing import Registry, Resource

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.openlineage import parent_run_id

SPEC = Path(__file__).parent / "openlineage_spec"
FACETS = {
    "parent": "ParentRunFacet",
    "schema": "SchemaDatasetFacet",
    "version": "DatasetVersionDatasetFacet",
    "errorMessage": "ErrorMessageRunFacet",
}


def schema_of(name: str) -> dict:
    return json.loads((SPEC / f"{name}.json").read_text())


REGISTRY = Registry().with_resources(
    (schema_of(n)["$id"], Resource.from_contents(schema_of(n)))
    for n in ["OpenLineage", *FACETS.values()]
)


def validate(event: dict) -> None:
    """The event against the RunEvent schema, and each standard facet against its own."""
    core = schema_of("OpenLineage")
    jsonschema.Draft202012Validator(
        {"$ref": f"{core['$id']}#/$defs/RunEvent"}, registry=REGISTRY
    ).validate(event)
    facet_sets = [event["run"]["facets"]]
    facet_sets += [d.get("facets", {}) for d in event["inputs"] + event["outputs"]]
    for facets in facet_sets:
        for key, facet in facets.items():
            if key in FACETS:
                facet_schema = schema_of(FACETS[key])
                jsonschema.Draft202012Validator(
                    {"$ref": f"{facet_schema['$id']}#/$defs/{FACETS[key]}"}, registry=REGISTRY
                ).validate(facet)


class Receiver:
    """An OpenLineage HTTP endpoint on 127.0.0.1 that keeps what it is sent, or fails on purpose."""

    def __init__(self, status: int = 200) -> None:
        self.events: list[dict] = []
        received = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if status == 200:
                    received.append(json.loads(body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def stack_with(tmp_path, url: str) -> fa.Stack:
    return fa.Stack(
        store=fa.ArtifactStore(tmp_path / "artifacts"),
        catalog=Catalog(f"sqlite:///{tmp_path / 'catalog.db'}"),
        openlineage={
            "namespace": "lineage-test",
            "transport": {"type": "http", "url": url, "retry": {"total": 0}, "timeout": 2},
        },
    )


@fa.step
def load_raw() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2, 3]})


@fa.step
def clean(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.assign(y=raw["x"] * 2)


@fa.step
def explode(frame: pd.DataFrame) -> None:
    raise ValueError("exploded: postgresql://me:s3cretpass@db/x")


@fa.pipeline(project="demo")
def training():
    return clean(load_raw())


@fa.pipeline(project="demo")
def failing():
    explode(load_raw())


def test_each_step_run_emits_start_and_complete_with_datasets_and_parent(tmp_path, receiver):
    stack = stack_with(tmp_path, receiver.url)
    run = training.with_options(stack=stack)()
    events = receiver.events
    for event in events:
        validate(event)
    by_run: dict[str, list[str]] = {}
    for event in events:
        by_run.setdefault(event["run"]["runId"], []).append(event["eventType"])
    parent = parent_run_id(run)
    assert by_run.pop(parent) == ["START", "COMPLETE"]
    assert sorted(by_run) == sorted(s.id for s in run.steps)
    assert all(kinds == ["START", "COMPLETE"] for kinds in by_run.values())

    clean_done = next(
        e for e in events if e["job"]["name"] == "training.clean" and e["eventType"] == "COMPLETE"
    )
    assert clean_done["job"]["namespace"] == "lineage-test"
    assert clean_done["run"]["facets"]["parent"]["run"]["runId"] == parent
    assert clean_done["run"]["facets"]["parent"]["job"]["name"] == "training"
    (raw_in,) = clean_done["inputs"]
    (clean_out,) = clean_done["outputs"]
    artifact = run.artifacts["clean"]
    assert raw_in["name"] == "demo/load_raw" and clean_out["name"] == "demo/clean"
    assert clean_out["namespace"] == stack.store.url
    assert clean_out["facets"]["version"]["datasetVersion"] == "1"
    assert clean_out["facets"]["flowArtifacts"]["checksum"] == artifact.checksum
    assert [f["name"] for f in clean_out["facets"]["schema"]["fields"]] == ["x", "y"]
    stack.close()


@fa.step(cache=True)
def summed(x: int) -> dict:
    return {"sum": x + 1}


@fa.pipeline(project="demo")
def summing():
    return summed(1)


def test_a_cache_hit_emits_start_and_complete_with_the_reused_output(tmp_path, receiver):
    """A hit's step run is recorded finished at once, but its events are any step run's."""
    stack = stack_with(tmp_path, receiver.url)
    summing.with_options(stack=stack)()
    second = summing.with_options(stack=stack)()
    [hit] = second.steps
    assert hit.cached
    events = [e for e in receiver.events if e["run"]["runId"] == hit.id]
    for event in events:
        validate(event)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    (reused,) = events[1]["outputs"]
    assert reused["name"] == "demo/summed"
    assert reused["facets"]["version"]["datasetVersion"] == "1"
    stack.close()


def test_a_failed_step_emits_fail_with_its_masked_error(tmp_path, receiver):
    stack = stack_with(tmp_path, receiver.url)
    with pytest.raises(ValueError):
        failing.with_options(stack=stack)()
    for event in receiver.events:
        validate(event)
    failed = [e for e in receiver.events if e["eventType"] == "FAIL"]
    assert sorted(e["job"]["name"] for e in failed) == ["failing", "failing.explode"]
    facet = failed[0]["run"]["facets"]["errorMessage"]
    assert facet["message"].startswith("ValueError: exploded") and "s3cretpass" not in str(facet)
    step = next(e for e in failed if e["job"]["name"] == "failing.explode")
    trace = step["run"]["facets"]["errorMessage"]["stackTrace"]
    assert trace.startswith("Traceback (most recent call last):") and "in explode" in trace
    stack.close()


def test_integration_step_runs_emit_too_and_run_ids_that_are_not_uuids_are_derived(
    tmp_path, receiver
):
    stack = stack_with(tmp_path, receiver.url)
    with fa.run(project="demo", run_id="2026-11-29T10.00.00.000Z", stack=stack) as run:
        node = run.start_step("node")
        run.save_output(node, {"a": 1}, "notes")
        run.finish_step(node)
    for event in receiver.events:
        validate(event)
    assert [e["eventType"] for e in receiver.events] == ["START", "START", "COMPLETE", "COMPLETE"]
    assert receiver.events[0]["run"]["runId"] == parent_run_id(run) != run.id
    assert receiver.events[2]["outputs"][0]["name"] == "demo/notes"
    stack.close()


def test_a_failing_receiver_never_fails_a_run(tmp_path, caplog):
    broken = Receiver(status=500)
    stack = stack_with(tmp_path, broken.url)
    with caplog.at_level(logging.WARNING, logger="flow_artifacts.openlineage"):
        run = training.with_options(stack=stack)()
    broken.close()
    unreachable = stack_with(tmp_path / "other", broken.url)  # nothing listens any more
    again = training.with_options(stack=unreachable)()
    assert run.status == again.status == "completed"
    assert run.artifacts["clean"].load()["y"].tolist() == [2, 4, 6]
    assert "could not emit an OpenLineage event" in caplog.text
    stack.close()
    unreachable.close()


def test_the_setting_in_a_stack_file(tmp_path, receiver, monkeypatch):
    monkeypatch.setenv("OL_URL", receiver.url)
    path = tmp_path / "stack.yaml"
    path.write_text(
        "project: demo\n"
        "openlineage:\n  namespace: from-file\n"
        "  transport: {type: http, url: '${OL_URL}'}\n"
    )
    stack = fa.Stack.from_yaml(path)
    assert stack.openlineage == {
        "namespace": "from-file",
        "transport": {"type": "http", "url": receiver.url},
    }
    training.with_options(stack=stack)()
    assert {e["job"]["namespace"] for e in receiver.events} == {"from-file"}
    stack.close()
    path.write_text("openlineage: {namespace: x, url: 'http://h'}\n")
    with pytest.raises(fa.ConfigError, match="unknown key"):
        fa.Stack.from_yaml(path)


def test_without_the_setting_nothing_is_emitted(tmp_path, receiver, monkeypatch):
    monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)  # the client alone does not turn it on
    stack = fa.Stack.local(tmp_path / "fa")
    training.with_options(stack=stack)()
    assert receiver.events == []
    stack.close()


def test_the_transport_can_come_from_the_clients_own_environment(tmp_path, receiver, monkeypatch):
    monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)
    stack = fa.Stack.local(tmp_path / "fa")
    stack.openlineage = {"namespace": "env"}
    training.with_options(stack=stack)()
    assert len(receiver.events) == 6 and {e["job"]["namespace"] for e in receiver.events} == {"env"}
    stack.close()
