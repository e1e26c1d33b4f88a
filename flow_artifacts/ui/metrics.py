"""Metrics: JSON reports that are flat name -> number objects, read for the model and report pages.

A report is read only when it is small (`MAX_REPORT_BYTES`), whole, and so checksum-verified;
anything else (larger, not JSON, nested values or nested too deep to parse, unreadable) is
simply not a metrics report here.
Each page reads a bounded number of them: the reports beside a model (the other outputs of the
step run that made it) or made from it, and the latest `MAX_VERSIONS` versions of a report.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..artifact import Artifact
from ..errors import FlowArtifactsError
from ..manifest import Manifest
from ..refs import display_ref
from ..stack import Stack

MAX_REPORT_BYTES = 64 << 10
MAX_METRICS = 100
MAX_RELATED = 10
MAX_VERSIONS = 30
JSON = "application/json"


def flat_metrics(art: Artifact) -> dict[str, float] | None:
    """The report's numbers by name, when it is one flat object of numbers; else None."""
    m = art.manifest
    if m.mime_type != JSON or m.directory or m.size > MAX_REPORT_BYTES:
        return None
    try:
        value = json.loads(b"".join(art.as_stream(MAX_REPORT_BYTES)))
    except (FlowArtifactsError, ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or not 0 < len(value) <= MAX_METRICS:
        return None
    if not all(_number(v) for v in value.values()):
        return None
    return value


def related(stack: Stack, art: Artifact, beside: list[str], used_by: list[Manifest]) -> list[Any]:
    """Metrics reports beside `art` (`beside`: the ids its step run also wrote) or made from it,
    at most `MAX_RELATED`, each as {id, ref, relation, metrics}."""
    candidates = [(i, "beside") for i in beside if i != art.id]
    candidates += [(m.id, "made from it") for m in used_by if m.kind == "report"]
    found = {m.id: m for m in stack.catalog.by_ids([i for i, _ in candidates])}
    shown: list[Any] = []
    for artifact_id, relation in candidates:
        manifest = found.get(artifact_id)
        if manifest is None or manifest.kind != "report" or len(shown) >= MAX_RELATED:
            continue
        values = flat_metrics(_handle(stack, manifest))
        if values is not None:
            ref = display_ref(manifest.project, manifest.name, manifest.version)
            shown.append({"id": manifest.id, "ref": ref, "relation": relation, "metrics": values})
    return shown


def history(stack: Stack, art: Artifact) -> dict[str, Any]:
    """This report's metrics (None when it is not a metrics report) and those of the latest
    `MAX_VERSIONS` versions of its name, oldest first, for the chart across versions."""
    own = flat_metrics(art)
    if own is None:
        return {"metrics": None, "versions": []}
    page = stack.catalog.versions(art.project, art.name, page_size=MAX_VERSIONS)
    versions = []
    for manifest in reversed(page.items):
        values = own if manifest.id == art.id else flat_metrics(_handle(stack, manifest))
        if values is not None:
            versions.append(
                {"id": manifest.id, "version": manifest.version, "created": manifest.created}
                | {"metrics": values}
            )
    return {"metrics": own, "versions": versions}


def _handle(stack: Stack, manifest: Manifest) -> Artifact:
    return Artifact(manifest, store=stack.store, stack=stack)


def _number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and (not isinstance(value, float) or math.isfinite(value))
    )
