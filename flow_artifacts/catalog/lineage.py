"""Lineage graphs: artifacts and the step runs that consumed and produced them, with exports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Integer, String, func, literal, select

from ..errors import ConfigError
from ..manifest import Manifest
from . import schema as t

if TYPE_CHECKING:
    from .catalog import Catalog, StepRunRecord

Direction = Literal["upstream", "downstream"]
OPENLINEAGE_SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
OPENLINEAGE_SCHEMA = f"{OPENLINEAGE_SPEC}#/$defs/RunEvent"
PRODUCER = "https://pypi.org/project/flow-artifacts/"
MAX_DEPTH = 10_000
"""Hops followed when no depth is given; it also ends any walk around a cycle."""


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
        """One OpenLineage COMPLETE (or FAIL) event per step run, datasets named by artifact URI.

        The job is the step, so every run of it is a run of the same job; the pipeline run id,
        like each artifact's checksum, travels in a `flowArtifacts` custom facet.
        """
        events = []
        for sid, s in sorted(self.step_runs.items()):
            inputs = [self.artifacts[a] for a in s.inputs if a in self.artifacts]
            outputs = [self.artifacts[a] for a in s.outputs if a in self.artifacts]
            when = s.ended or s.started or datetime.now(timezone.utc)
            events.append(
                {
                    "eventType": "FAIL" if s.status == "failed" else "COMPLETE",
                    "eventTime": when.isoformat(),
                    "run": {
                        "runId": sid,
                        "facets": {
                            "flowArtifacts": {
                                **_facet_base("RunFacet"),
                                "runId": s.run_id,
                                "cached": s.cached,
                            }
                        },
                    },
                    "job": {"namespace": s.project, "name": s.step},
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
    """The lineage of one artifact, `depth` step-run hops at most (None: all).

    One recursive query finds every artifact in reach, whatever the depth; a few more fetch their
    records and the step runs between them.
    """
    if direction not in ("upstream", "downstream"):
        raise ConfigError(f"direction must be 'upstream' or 'downstream', got {direction!r}")
    if depth is not None and depth < 0:
        raise ConfigError(f"depth must be >= 0 or None, got {depth}")
    graph = LineageGraph(root=artifact_id, direction=direction)
    reached = _reachable(catalog, artifact_id, direction, MAX_DEPTH if depth is None else depth)
    graph.artifacts.update((m.id, m) for m in catalog.by_ids(sorted(reached)))
    inner = [a for a, d in reached.items() if a in graph.artifacts and (depth is None or d < depth)]
    if direction == "upstream":
        producers = {graph.artifacts[a].step_run_id for a in inner} - {None}
        records = catalog.step_runs_by_ids(sorted(producers))  # type: ignore[arg-type]
        for s in records:
            graph.edges.update((s.id, out) for out in s.outputs if out in inner)
            graph.edges.update((i, s.id) for i in s.inputs)
    else:
        consumed = catalog.consumers(inner)
        records = catalog.step_runs_by_ids(sorted({s for ids in consumed.values() for s in ids}))
        for a, step_ids in consumed.items():
            graph.edges.update((a, s) for s in step_ids)
        for s in records:
            graph.edges.update((s.id, out) for out in s.outputs)
    graph.step_runs.update((s.id, s) for s in records)
    return graph


def _reachable(catalog: Catalog, root: str, direction: Direction, limit: int) -> dict[str, int]:
    """Artifact id -> fewest step-run hops from `root`, for everything within `limit` hops."""
    a, si = t.artifacts, t.step_inputs
    reach = select(literal(root, String).label("id"), literal(0, Integer).label("hops")).cte(
        "reach", recursive=True
    )
    if direction == "upstream":  # from an artifact to the inputs of the step run that made it
        joined = reach.join(a, a.c.id == reach.c.id).join(si, si.c.step_run_id == a.c.step_run_id)
        step = select(si.c.artifact_id, reach.c.hops + 1)
    else:  # from an artifact to the outputs of the step runs that consumed it
        joined = reach.join(si, si.c.artifact_id == reach.c.id).join(
            a, a.c.step_run_id == si.c.step_run_id
        )
        step = select(a.c.id, reach.c.hops + 1)
    reach = reach.union(step.select_from(joined).where(reach.c.hops < limit))
    query = select(reach.c.id, func.min(reach.c.hops)).group_by(reach.c.id)
    with catalog.engine.connect() as conn:
        return {artifact_id: hops for artifact_id, hops in conn.execute(query)}


def _node(node_id: str) -> str:
    return "n" + node_id.replace("-", "")[:12]


def _dataset(m: Manifest) -> dict[str, Any]:
    return {
        "namespace": "flow-artifacts",
        "name": f"store://{m.project}/{m.name}@{m.version}",
        "facets": dataset_facets(m),
    }


def dataset_facets(m: Manifest) -> dict[str, Any]:
    """An artifact's OpenLineage dataset facets: its checksum, size and media type (custom), its
    version, and the schema its materializer recorded, if any. Shared by the export and by
    `flow_artifacts.openlineage`, which emits events as steps run."""
    facets: dict[str, Any] = {
        "flowArtifacts": {
            **_facet_base("DatasetFacet"),
            "checksum": m.checksum,
            "size": m.size,
            "mimeType": m.mime_type,
        }
    }
    if m.version is not None:
        facets["version"] = {
            **standard_facet_base("1-0-1", "DatasetVersionDatasetFacet"),
            "datasetVersion": str(m.version),
        }
    columns = m.metadata.get("schema")
    if isinstance(columns, list) and all(isinstance(c, dict) and "name" in c for c in columns):
        facets["schema"] = {
            **standard_facet_base("1-2-0", "SchemaDatasetFacet"),
            "fields": [{"name": str(c["name"]), "type": str(c.get("type", ""))} for c in columns],
        }
    return facets


def standard_facet_base(version: str, facet: str) -> dict[str, str]:
    """`_producer` and `_schemaURL` of one of OpenLineage's own facets, at `version` of it."""
    return {
        "_producer": PRODUCER,
        "_schemaURL": f"https://openlineage.io/spec/facets/{version}/{facet}.json#/$defs/{facet}",
    }


def _facet_base(kind: str) -> dict[str, str]:
    """What every custom facet must carry: who produced it and the schema it conforms to."""
    return {"_producer": PRODUCER, "_schemaURL": f"{OPENLINEAGE_SPEC}#/$defs/{kind}"}
