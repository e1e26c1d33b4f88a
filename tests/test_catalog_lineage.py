"""Lineage recorded by `materialize(inputs=...)`, walked both ways, exported, rebuilt by reindex."""

from __future__ import annotations

import json

import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog


def _chain(stack, length: int) -> list[fa.Artifact]:
    """a0 -> step1 -> a1 -> step2 -> a2 ... each artifact made from the previous one."""
    arts = [fa.materialize({"n": 0}, "a0", "run", "step0", "demo", stack=stack)]
    for n in range(1, length):
        arts.append(
            fa.materialize(
                {"n": n}, f"a{n}", "run", f"step{n}", "demo", inputs=[arts[-1]], stack=stack
            )
        )
    return arts


def test_upstream_lineage_reaches_any_depth(stack):
    raw = fa.materialize({"raw": 1}, "raw", "r1", "ingest", "demo", stack=stack)
    a2 = fa.materialize(
        {"v": 2},
        "clean",
        "r2",
        "prep",
        "demo",
        inputs=[raw],
        labels={"team": "risk"},
        description="cleaned rows",
        stack=stack,
    )
    graph = a2.lineage(direction="upstream")
    assert set(graph.artifacts) == {raw.id, a2.id}
    [producer] = [s for s in graph.step_runs.values() if s.step == "prep"]
    [ingest] = [s for s in graph.step_runs.values() if s.step == "ingest"]
    assert graph.edges == {(raw.id, producer.id), (producer.id, a2.id), (ingest.id, raw.id)}

    chain = _chain(stack, 6)
    deep = chain[-1].lineage()
    assert set(deep.artifacts) == {a.id for a in chain}
    limited = fa.lineage(chain[-1], depth=2, stack=stack)
    assert set(limited.artifacts) == {a.id for a in chain[-3:]}


def test_downstream_lineage_follows_consumers(stack):
    chain = _chain(stack, 4)
    side = fa.materialize(
        {"side": 1}, "side", "run2", "branch", "demo", inputs=[chain[1]], stack=stack
    )
    graph = fa.lineage(chain[1], "downstream", stack=stack)
    assert set(graph.artifacts) == {chain[1].id, chain[2].id, chain[3].id, side.id}
    assert chain[0].id not in graph.artifacts


def test_lineage_exports_mermaid_and_openlineage(stack):
    raw = fa.materialize({"raw": 1}, "raw", "r1", "ingest", "demo", stack=stack)
    clean = fa.materialize({"v": 1}, "clean", "r2", "prep", "demo", inputs=[raw], stack=stack)
    graph = clean.lineage()
    mermaid = graph.to_mermaid()
    assert mermaid.startswith("graph LR")
    assert '"demo/raw@1"' in mermaid and '"demo/clean@1"' in mermaid and "r2/prep" in mermaid
    events = graph.to_openlineage()
    json.dumps(events)  # serializable as it is
    [prep] = [e for e in events if e["job"]["name"] == "prep"]
    assert (
        prep["eventType"] == "COMPLETE" and prep["run"]["facets"]["flowArtifacts"]["runId"] == "r2"
    )
    facet = prep["outputs"][0]["facets"]["flowArtifacts"]
    assert facet["checksum"] == clean.checksum and {"_producer", "_schemaURL"} <= set(facet)
    assert [d["name"] for d in prep["inputs"]] == ["store://demo/raw@1"]
    assert [d["name"] for d in prep["outputs"]] == ["store://demo/clean@1"]
    assert prep["job"]["namespace"] == "demo"


def test_lineage_rejects_bad_arguments(stack):
    art = fa.materialize({"v": 1}, "clean", "r1", "prep", "demo", stack=stack)
    with pytest.raises(fa.ConfigError, match="direction"):
        art.lineage(direction="sideways")
    with pytest.raises(fa.ConfigError, match="depth"):
        art.lineage(depth=-1)


def test_inputs_must_exist_and_nothing_is_recorded_otherwise(stack):
    with pytest.raises(fa.ArtifactNotFound):
        fa.materialize(
            {"v": 1},
            "clean",
            "r1",
            "prep",
            "demo",
            stack=stack,
            inputs=["urn:flow-artifacts:artifact:00000000-0000-0000-0000-000000000000"],
        )
    assert stack.store.list_artifacts() == []
    assert list(fa.list_artifacts(stack=stack)) == []


def test_reindex_rebuilds_an_empty_catalog_with_versions_tags_and_lineage(
    stack, tmp_path, catalog_url_factory
):
    raw = fa.materialize({"raw": 1}, "raw", "r1", "ingest", "demo", stack=stack)
    fa.materialize(
        {"v": 1}, "clean", "r2", "prep", "demo", inputs=[raw], stack=stack, labels={"team": "risk"}
    )
    latest = fa.materialize({"v": 2}, "clean", "r3", "prep", "demo", inputs=[raw], stack=stack)

    fresh = fa.Stack(store=stack.store, catalog=Catalog(catalog_url_factory()))
    assert fa.reindex(stack=fresh).added == 3
    assert fa.reindex(stack=fresh).added == 0  # idempotent
    rebuilt = fa.get_artifact("store://demo/clean", stack=fresh)
    assert (rebuilt.id, rebuilt.version) == (latest.id, 2)
    assert fa.get_artifact("store://demo/clean@1", stack=fresh).labels == {"team": "risk"}
    assert set(rebuilt.lineage().artifacts) == {raw.id, latest.id}
    assert fa.materialize({"v": 3}, "clean", "r4", "prep", "demo", stack=fresh).version == 3
