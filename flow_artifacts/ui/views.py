"""The browser's data: artifacts, versions, lineage graphs and runs as plain JSON-able values.

Everything the page shows is built here from the public API and the catalog, and goes through
`plain()`, which masks the stack's secrets in every string: a secret that leaked into a label, a
report or an error message is never sent to the browser.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from ..api import lineage as walk
from ..artifact import Artifact
from ..catalog import RunRecord, StepRunRecord
from ..errors import ArtifactNotFound
from ..failures import split_error
from ..manifest import Manifest
from ..redact import redact_url
from ..refs import display_ref
from ..stack import Stack
from ..version import __version__
from . import metrics

VERSIONS_PAGE = 20
USED_BY_SHOWN = 100
"""The artifact page and `show` list this many of what was made from an artifact."""
EXTRA_FIELDS = (
    "key",
    "data_path",
    "pipeline",
    "directory",
    "materializer_version",
    "libraries",
    "user_metadata",
    "step_run_id",
)


def plain(value: Any, stack: Stack) -> Any:
    """`value` with datetimes as ISO text, non-finite floats as text, and secrets masked."""
    return _plain(value, stack.scrub)


def _plain(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {_plain(k, scrub): _plain(v, scrub) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v, scrub) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def summary(m: Manifest) -> dict[str, Any]:
    """An artifact as a row of a table: what the list, versions and runs pages show."""
    return {
        "id": m.id,
        "uri": m.uri,
        "project": m.project,
        "name": m.name,
        "version": m.version,
        "kind": m.kind,
        "materializer": m.materializer,
        "size": m.size,
        "created": m.created,
        "run_id": m.run_id,
        "step": m.step,
        "labels": m.labels,
        "ref": display_ref(m.project, m.name, m.version),
    }


def list_rows(stack: Stack, found: list[Manifest]) -> list[dict[str, Any]]:
    """Rows of the artifact list: each summary with its name's version count and tags."""
    info = stack.catalog.names_info((m.project, m.name) for m in found)
    return [
        {
            **summary(m),
            "version_count": info[(m.project, m.name)]["versions"],
            "name_tags": info[(m.project, m.name)]["tags"],
        }
        for m in found
    ]


def stack_info(stack: Stack, *, allow_delete: bool) -> dict[str, Any]:
    """What the header shows: the stack and its projects; store and catalog URLs redacted."""
    return {
        "version": __version__,
        "stack": stack.name,
        "source": stack.source,
        "store": redact_url(stack.store.url),
        "catalog": redact_url(stack.catalog.url),
        "default_project": stack.project,
        "projects": stack.catalog.projects(),
        "project_counts": stack.catalog.project_counts(),
        "allow_delete": allow_delete,
    }


def artifact_detail(stack: Stack, art: Artifact) -> dict[str, Any]:
    """Every field of the record, with tags, aspects, versions of its name and its producer."""
    catalog = stack.catalog
    record = art.record()
    record.update({name: getattr(art.manifest, name) for name in EXTRA_FIELDS})
    record["status"] = art.status
    record["tags"] = catalog.tags(art.id)
    record["aspects"] = catalog.aspects(art.id)
    record["versions"] = versions(stack, art, None)
    record["producer"] = None
    beside: list[str] = []
    if art.manifest.step_run_id:
        try:
            producer = catalog.step_run(art.manifest.step_run_id)
            record["producer"] = step_summary(producer)
            beside = producer.outputs
        except ArtifactNotFound:
            pass
    record["downloadable"] = not art.manifest.directory
    near, used = _neighbours(stack, art)
    record.update(near)
    record["metrics"] = metrics.related(stack, art, beside, used) if art.kind == "model" else []
    return record


def neighbours(stack: Stack, art: Artifact) -> dict[str, Any]:
    """What `art` was made from and what was made from it, by name (`project/name@version`):
    `input_artifacts` (a deleted input listed by id, marked missing) and `used_by` (the first
    `USED_BY_SHOWN`, oldest first; `used_by_count` says how many in all)."""
    return _neighbours(stack, art)[0]


def _neighbours(stack: Stack, art: Artifact) -> tuple[dict[str, Any], list[Manifest]]:
    known = {m.id: summary(m) for m in stack.catalog.by_ids(art.inputs)} if art.inputs else {}
    used = sorted(stack.catalog.dependents([art.id]), key=lambda m: (m.created, m.id))
    found = {
        "input_artifacts": _artifacts(art.inputs, known),
        "used_by": [summary(m) for m in used[:USED_BY_SHOWN]],
        "used_by_count": len(used),
    }
    return found, used


def versions(stack: Stack, art: Artifact, cursor: str | None) -> dict[str, Any]:
    """One page of the versions of the artifact's name, newest first, each with its tags."""
    page = stack.catalog.versions(art.project, art.name, page_size=VERSIONS_PAGE, cursor=cursor)
    tags: dict[int, list[str]] = {}
    for tag, version in sorted(stack.catalog.tags_of_name(art.project, art.name).items()):
        tags.setdefault(version, []).append(tag)
    items = [{**summary(m), "tags": tags.get(m.version or 0, [])} for m in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


def step_summary(s: StepRunRecord) -> dict[str, Any]:
    """A step run; a failed one's recorded error also apart as its message and traceback."""
    ended = s.ended
    message, trace = split_error(s.error) if s.error else (None, None)
    return {
        "id": s.id,
        "project": s.project,
        "run_id": s.run_id,
        "step": s.step,
        "status": s.status,
        "started": s.started,
        "ended": ended,
        "duration_s": (ended - s.started).total_seconds() if ended else None,
        "cached": s.cached,
        "cache_key": s.cache_key,
        "params": s.params,
        "error": s.error,
        "error_message": message,
        "traceback": trace,
        "inputs": s.inputs,
        "outputs": s.outputs,
    }


def lineage(stack: Stack, art: Artifact, depth: int | None) -> dict[str, Any]:
    """Upstream and downstream of `art` in one graph: artifact and step-run nodes, edges."""
    up = walk(art, "upstream", depth, stack=stack)
    down = walk(art, "downstream", depth, stack=stack)
    artifacts = {**up.artifacts, **down.artifacts}
    steps = {**up.step_runs, **down.step_runs}
    nodes = [
        {**summary(m), "type": "artifact", "label": f"{m.name}@{m.version}", "root": i == art.id}
        for i, m in sorted(artifacts.items())
    ]
    nodes += [
        {
            "id": i,
            "type": "step",
            "label": s.step,
            "project": s.project,
            "run_id": s.run_id,
            "status": s.status,
            "cached": s.cached,
        }
        for i, s in sorted(steps.items())
    ]
    known = artifacts.keys() | steps.keys()
    edges = [
        {"source": src, "target": dst}
        for src, dst in sorted(up.edges | down.edges)
        if src in known and dst in known
    ]
    return {"root": art.id, "depth": depth, "nodes": nodes, "edges": edges}


def run_detail(stack: Stack, run: RunRecord) -> dict[str, Any]:
    """A run with its steps: status, duration, cache hits, and input and output artifacts."""
    records = stack.catalog.step_runs_of_run(run.project, run.run_id)
    sources = {s.id: _reused_from(stack, s) for s in records}
    outputs = {s.id: (sources[s.id] or s).outputs for s in records}
    ids = {i for s in records for i in (*s.inputs, *outputs[s.id])}
    known = {m.id: summary(m) for m in stack.catalog.by_ids(sorted(ids))} if ids else {}
    steps = []
    for s in records:
        step = step_summary(s)
        step["inputs"] = _artifacts(s.inputs, known)
        step["outputs"] = _artifacts(outputs[s.id], known)
        source = sources[s.id]
        step["reused_from"] = (
            {"id": source.id, "project": source.project, "run_id": source.run_id}
            if source
            else None
        )
        steps.append(step)
    ended, started = run.ended, run.started
    return {
        **run.to_dict(),
        "duration_s": (ended - started).total_seconds() if ended and started else None,
        "cache_hits": sum(1 for s in records if s.cached),
        "steps": steps,
    }


def _reused_from(stack: Stack, s: StepRunRecord) -> StepRunRecord | None:
    """For a cache hit, the step run whose outputs it reused: a hit records none of its own."""
    if not s.cached or s.outputs or not s.cache_key:
        return None
    return stack.catalog.find_cached(s.cache_key)


def _artifacts(ids: Iterable[str], known: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Summaries of `ids`; one deleted since the run is listed by id, marked missing."""
    return [known.get(i) or {"id": i, "missing": True} for i in ids]
