"""Lineage graphs: artifacts and the step runs that consumed and produced them, with exports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigError
from ..manifest import Manifest

if TYPE_CHECKING:
    from .catalog import Catalog, StepRunRecord

Direction = Literal["upstream", "downstream"]
OPENLINEAGE_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent"
PRODUCER = "https://pypi.org/project/flow-artifacts/"


@dataclass
class LineageGraph:
    """Nodes are artifacts (by id) and step runs (by id); an edge (a, b) means a flows into b."""

    root: str
    direction: Direction
    artifacts: dict[str, Manifest] = field(default_factory=dict)
    step_runs: dict[str, StepRunRecord] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)

    def upstream_of(self, node_id: str) -> list[str]:
        return sorted(src for src, dst in self.edges if dst == node_id)

    def to_mermaid(self) -> str:
        lines = ["graph LR"]
        for aid, m in sorted(self.artifacts.items()):
            lines.append(f'  {_node(aid)}["{m.project}/{m.name}@{m.version}"]')
        for sid, s in sorted(self.step_runs.items()):
            cached = " (cached)" if s.cached else ""
            lines.append(f'  {_node(sid)}(["{s.run_id}/{s.step}{cached}"])')
        for src, dst in sorted(self.edges):
            lines.append(f"  {_node(src)} --> {_node(dst)}")
        return "\n".join(lines)

    def to_openlineage(self) -> list[dict[str, Any]]:
        """One OpenLineage COMPLETE run event per step run, datasets named by artifact URI."""
        events = []
        for sid, s in sorted(self.step_runs.items()):
            inputs = [self.artifacts[a] for a in s.inputs if a in self.artifacts]
            outputs = [self.artifacts[a] for a in s.outputs if a in self.artifacts]
            when = s.ended or s.started or datetime.now(timezone.utc)
            events.append(
                {
                    "eventType": "FAIL" if s.status == "failed" else "COMPLETE",
                    "eventTime": when.isoformat(),
                    "run": {"runId": sid},
                    "job": {"namespace": s.project, "name": f"{s.run_id}.{s.step}"},
                    "inputs": [_dataset(m) for m in inputs],
                    "outputs": [_dataset(m) for m in outputs],
                    "producer": PRODUCER,
                    "schemaURL": OPENLINEAGE_SCHEMA,
                }
            )
        return events


def walk_lineage(
    catalog: Catalog, artifact_id: str, direction: Direction = "upstream", depth: int | None = None
) -> LineageGraph:
    """The lineage of one artifact, breadth first, `depth` step-run hops at most (None: all)."""
    if direction not in ("upstream", "downstream"):
        raise ConfigError(f"direction must be 'upstream' or 'downstream', got {direction!r}")
    if depth is not None and depth < 0:
        raise ConfigError(f"depth must be >= 0 or None, got {depth}")
    graph = LineageGraph(root=artifact_id, direction=direction)
    frontier = [artifact_id]
    graph.artifacts.update((m.id, m) for m in catalog.by_ids(frontier))
    hops = 0
    while frontier and (depth is None or hops < depth):
        hops += 1
        if direction == "upstream":
            step_ids = {
                graph.artifacts[a].step_run_id for a in frontier if graph.artifacts[a].step_run_id
            }
            records = catalog.step_runs_by_ids(sorted(step_ids))  # type: ignore[arg-type]
            for s in records:
                graph.edges.update((s.id, out) for out in s.outputs if out in frontier)
                graph.edges.update((i, s.id) for i in s.inputs)
            next_ids = {i for s in records for i in s.inputs}
        else:
            consumed = catalog.consumers(frontier)
            records = catalog.step_runs_by_ids(
                sorted({s for ids in consumed.values() for s in ids})
            )
            for a, step_ids in consumed.items():
                graph.edges.update((a, s) for s in step_ids)
            for s in records:
                graph.edges.update((s.id, out) for out in s.outputs)
            next_ids = {o for s in records for o in s.outputs}
        graph.step_runs.update((s.id, s) for s in records)
        frontier = sorted(next_ids - graph.artifacts.keys())
        graph.artifacts.update((m.id, m) for m in catalog.by_ids(frontier))
        frontier = [a for a in frontier if a in graph.artifacts]
    return graph


def _node(node_id: str) -> str:
    return "n" + node_id.replace("-", "")[:12]


def _dataset(m: Manifest) -> dict[str, Any]:
    return {
        "namespace": "flow-artifacts",
        "name": f"store://{m.project}/{m.name}@{m.version}",
        "facets": {"checksum": {"checksum": m.checksum, "size": m.size, "mimeType": m.mime_type}},
    }
