"""Lineage graphs: artifacts and the step runs that consumed and produced them, with exports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, String, literal, select

from ..errors import ConfigError
from ..manifest import Manifest
from . import schema as t
from .database import chunked
from .lookups import by_ids
from .runs import consumers, step_runs_by_ids

if TYPE_CHECKING:
    from .records import StepRunRecord

Direction = Literal["upstream", "downstream"]
OPENLINEAGE_SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
OPENLINEAGE_SCHEMA = f"{OPENLINEAGE_SPEC}#/$defs/RunEvent"
PRODUCER = "https://pypi.org/project/flow-artifacts/"


@dataclass
class LineageGraph:
    """Nodes are artifacts (by id) and step runs (by id); an edge (a, b) means a flows into b."""

    root: str
    direction: Direction
    artifacts: dict[str, Manifest] = field(default_factory=dict)
    step_runs: dict[str, StepRunRecord] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)
    _index: dict[bool, tuple[int, dict[str, list[str]]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def upstream_of(self, node_id: str) -> list[str]:
        """What flows into `node_id`, sorted."""
        return self.adjacency(down=False).get(node_id, [])

    def downstream_of(self, node_id: str) -> list[str]:
        """What `node_id` flows into, sorted."""
        return self.adjacency(down=True).get(node_id, [])

    def adjacency(self, *, down: bool) -> dict[str, list[str]]:
        """Node -> its sorted neighbours downstream (or upstream), built once per edge set."""
        cached = self._index.get(down)
        if cached is None or cached[0] != len(self.edges):
            index: dict[str, list[str]] = {}
            for src, dst in sorted(self.edges):
                if down:
                    index.setdefault(src, []).append(dst)
                else:
                    index.setdefault(dst, []).append(src)
            cached = self._index[down] = (len(self.edges), index)
        return cached[1]

    def to_mermaid(self) -> str:
        """A Mermaid flowchart; labels are entity-escaped, so no name can change the diagram."""
        lines = ["graph LR"]
        for aid, m in sorted(self.artifacts.items()):
            lines.append(f'  {_node(aid)}["{_label(f"{m.project}/{m.name}@{m.version}")}"]')
        for sid, s in sorted(self.step_runs.items()):
            cached = " (cached)" if s.cached else ""
            lines.append(f'  {_node(sid)}(["{_label(f"{s.run_id}/{s.step}{cached}")}"])')
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
    conn: Connection,
    artifact_id: str,
    direction: Direction = "upstream",
    depth: int | None = None,
    *,
    renews: bool,
) -> LineageGraph:
    """The lineage of one artifact, `depth` step-run hops at most (None: all); `renews` as for
    the step runs' status (see `runs`).

    Linear in the nodes and edges reached, at any depth, and safe on cycles (a catalog rebuilt
    from tampered manifests may have them): every artifact is visited once. A few more queries
    fetch the records and the step runs between them.
    """
    if direction not in ("upstream", "downstream"):
        raise ConfigError(f"direction must be 'upstream' or 'downstream', got {direction!r}")
    if depth is not None and depth < 0:
        raise ConfigError(f"depth must be >= 0 or None, got {depth}")
    graph = LineageGraph(root=artifact_id, direction=direction)
    if depth is None:
        reached = dict.fromkeys(_reachable(conn, artifact_id, direction), 0)
    else:
        reached = _within(conn, artifact_id, direction, depth)
    graph.artifacts.update((m.id, m) for m in by_ids(conn, sorted(reached)))
    inner = {a for a, d in reached.items() if a in graph.artifacts and (depth is None or d < depth)}
    if direction == "upstream":
        producers = {graph.artifacts[a].step_run_id for a in inner} - {None}
        records = step_runs_by_ids(conn, sorted(producers), renews)  # type: ignore[arg-type]
        for s in records:
            graph.edges.update((s.id, out) for out in s.outputs if out in inner)
            graph.edges.update((i, s.id) for i in s.inputs)
    else:
        consumed = consumers(conn, sorted(inner))
        used_by = sorted({s for ids in consumed.values() for s in ids})
        records = step_runs_by_ids(conn, used_by, renews)
        for a, step_ids in consumed.items():
            graph.edges.update((a, s) for s in step_ids)
        for s in records:
            graph.edges.update((s.id, out) for out in s.outputs)
    graph.step_runs.update((s.id, s) for s in records)
    return graph


def _reachable(conn: Connection, root: str, direction: Direction) -> list[str]:
    """Every artifact id in reach of `root`, found by one recursive query.

    The query carries ids only, so its UNION keeps each artifact once however many paths lead
    to it: linear in what it reaches, and it ends on a cycle.
    """
    reach = select(literal(root, String).label("id")).cte("reach", recursive=True)
    reach = reach.union(_step_from(reach.c.id, direction).select_from(reach))
    return list(conn.execute(select(reach.c.id)).scalars())


def _within(conn: Connection, root: str, direction: Direction, depth: int) -> dict[str, int]:
    """Artifact id -> fewest step-run hops from `root`, for everything within `depth` hops.

    Breadth first, one query per hop (and per slice of a wide frontier): each artifact is
    expanded once, at its fewest hops, which a recursive query with a hop count cannot promise.
    """
    hops = {root: 0}
    frontier = [root]
    for level in range(1, depth + 1):
        found: list[str] = []
        for part in chunked(frontier):
            query = _step_from(None, direction, part)
            found.extend(a for a in conn.execute(query).scalars() if a not in hops)
        frontier = list(dict.fromkeys(found))
        if not frontier:
            break
        hops.update(dict.fromkeys(frontier, level))
    return hops


def _step_from(from_id: Any, direction: Direction, ids: Sequence[str] | None = None) -> Any:
    """One hop: the artifacts one step run away from `from_id` (a column) or from `ids`."""
    a, si = t.artifacts, t.step_inputs
    if direction == "upstream":  # from an artifact to the inputs of the step run that made it
        query = select(si.c.artifact_id).join_from(a, si, si.c.step_run_id == a.c.step_run_id)
        return query.where(a.c.id == from_id if ids is None else a.c.id.in_(ids))
    # downstream: from an artifact to the outputs of the step runs that consumed it
    query = select(a.c.id).join_from(si, a, a.c.step_run_id == si.c.step_run_id)
    return query.where(si.c.artifact_id == from_id if ids is None else si.c.artifact_id.in_(ids))


def _node(node_id: str) -> str:
    """A Mermaid node id: letters and digits only, whatever the id holds."""
    return "n" + "".join(c for c in node_id if c.isascii() and c.isalnum())


def _label(text: str) -> str:
    """`text` for a quoted Mermaid label: anything but plain letters, digits and a few safe
    marks becomes an entity code (`#34;`), so quotes, brackets, newlines and HTML stay text."""
    return "".join(
        c if (c.isascii() and c.isalnum()) or c in _SAFE else f"#{ord(c)};" for c in text
    )


_SAFE = frozenset(" /@._-:()")


def _dataset(m: Manifest) -> dict[str, Any]:
    return {
        "namespace": "flow-artifacts",
        "name": m.uri,
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
