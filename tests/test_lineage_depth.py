"""Lineage of any depth and width walks, prints and exports (graphs are bulk-inserted rows)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.catalog import schema as t
from flow_artifacts.cli.main import cli
from flow_artifacts.ui.app import create_app
from tests import lineage_graphs

HOPS = 2_000


@pytest.fixture
def stack_file(stack, tmp_path):
    path = tmp_path / "stack.yaml"
    path.write_text(
        f"stacks:\n  main:\n    artifact_store: {{url: '{stack.store.url}'}}\n"
        f"    catalog: {{url: '{stack.catalog.url}'}}\n"
    )
    return path


def _cli(stack_file, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--stack", str(stack_file), "lineage", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_2000_hop_chain_walks_prints_and_exports_both_ways(stack, stack_file):
    ids = lineage_graphs.chain(stack.catalog, HOPS)

    up = fa.lineage(ids[-1], stack=stack)
    assert len(up.artifacts) == HOPS + 1 and len(up.step_runs) == HOPS + 1
    assert up.upstream_of(ids[-1]) == [up.artifacts[ids[-1]].step_run_id]
    down = fa.lineage(ids[0], "downstream", stack=stack)
    assert len(down.artifacts) == HOPS + 1 and len(down.edges) == 2 * HOPS

    tree = _cli(stack_file, f"store://deep/a{HOPS}").splitlines()
    assert len(tree) == 2 * HOPS + 2
    assert tree[0] == f"deep/a{HOPS}@1"
    assert tree[-1].strip() == f"({2 * HOPS + 1}) step bulk/s0"
    assert max(len(line) for line in tree) < 200  # deep levels print their depth, not indent
    downward = _cli(stack_file, "store://deep/a0", "--down").splitlines()
    assert downward[-1].strip() == f"({2 * HOPS}) deep/a{HOPS}@1"
    mermaid = _cli(stack_file, f"store://deep/a{HOPS}", "--format", "mermaid").splitlines()
    assert len(mermaid) == 1 + 2 * (HOPS + 1) + (2 * HOPS + 1)
    events = json.loads(_cli(stack_file, f"store://deep/a{HOPS}", "--format", "openlineage"))
    assert len(events) == HOPS + 1

    with TestClient(create_app(stack), base_url="http://127.0.0.1") as client:
        shown = client.get(f"/api/lineage/{ids[HOPS // 2]}", params={"depth": 20}).json()
    assert sum(n["type"] == "artifact" for n in shown["nodes"]) == 41


def test_depth_counts_fewest_hops_where_paths_of_many_lengths_meet(stack):
    ids = lineage_graphs.web(stack.catalog, 1_000)
    everything = fa.lineage(ids[-1], stack=stack)
    assert set(everything.artifacts) == set(ids)
    assert len(everything.step_runs) == 1_000
    near = fa.lineage(ids[-1], depth=1, stack=stack)
    producer = stack.catalog.step_run(everything.artifacts[ids[-1]].step_run_id)
    assert set(near.artifacts) == {ids[-1], *producer.inputs}
    assert set(near.step_runs) == {producer.id}
    assert fa.lineage(ids[0], "downstream", stack=stack).artifacts.keys() == set(ids)


def test_a_cycle_in_a_tampered_catalog_ends_the_walk(stack, stack_file):
    ids = lineage_graphs.chain(stack.catalog, 3)
    first_step = fa.lineage(ids[0], stack=stack).artifacts[ids[0]].step_run_id
    with stack.catalog.engine.begin() as conn:  # a0 made from a3: a loop
        conn.execute(t.step_inputs.insert().values(step_run_id=first_step, artifact_id=ids[3]))
    for direction in ("upstream", "downstream"):
        assert len(fa.lineage(ids[3], direction, stack=stack).artifacts) == 4
        assert len(fa.lineage(ids[3], direction, depth=50, stack=stack).artifacts) == 4
    tree = _cli(stack_file, "store://deep/a3").splitlines()
    assert tree[0] == "deep/a3@1"  # met again: printed, marked, not expanded
    assert tree[-1].strip() == "└── deep/a3@1  ↑ repeated, expanded above"
