"""What changed between two artifacts, or two runs: the one comparison `flow-artifacts diff` and
the web page's compare view both show.

Everything is read from the catalog (the trust root); only JSON reports are read from the store,
verified, and only up to `MAX_CONTENT_BYTES` each. The result is plain data, ready for `--json`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .refs import display_ref

if TYPE_CHECKING:
    from .artifact import Artifact
    from .catalog import RunRecord, StepRunRecord
    from .manifest import Manifest
    from .stack import Stack

MAX_CONTENT_BYTES = 1 << 20
"""JSON reports larger than this are compared by checksum only, not read."""
MAX_CHANGES = 500
"""A structural diff lists at most this many changes, then says it was cut."""
FIELDS = ("kind", "materializer", "mime_type", "size", "checksum", "rows", "description")
RUN_FIELDS = ("status", "name", "pipeline", "duration_s")
_MISSING = object()
"""A side of a structural diff where the other side has a key or item."""


def structural(a: Any, b: Any) -> dict[str, Any]:
    """JSON-like values compared path by path: `{"changes": [...], "truncated": bool}`.

    Each change is `{"path", "change": added|removed|changed, "a", "b"}`, with `"delta": b - a`
    when both sides are numbers. Walked without recursion: reports can nest deeply.
    """
    changes: list[dict[str, Any]] = []
    pending: list[tuple[str, Any, Any]] = [("", a, b)]
    while pending:
        path, left, right = pending.pop()
        if left is _MISSING:
            changes.append({"path": path, "change": "added", "a": None, "b": right})
        elif right is _MISSING:
            changes.append({"path": path, "change": "removed", "a": left, "b": None})
        elif isinstance(left, dict) and isinstance(right, dict):
            for key in sorted(left.keys() | right.keys(), key=str, reverse=True):
                sub = f"{path}.{key}" if path else str(key)
                pending.append((sub, left.get(key, _MISSING), right.get(key, _MISSING)))
        elif isinstance(left, list) and isinstance(right, list):
            for index in reversed(range(max(len(left), len(right)))):
                pending.append(
                    (
                        f"{path}[{index}]",
                        left[index] if index < len(left) else _MISSING,
                        right[index] if index < len(right) else _MISSING,
                    )
                )
        elif not _same(left, right):
            change = {"path": path, "change": "changed", "a": left, "b": right}
            if _number(left) and _number(right):
                change["delta"] = right - left
            changes.append(change)
        if len(changes) > MAX_CHANGES:
            return {"changes": changes[:MAX_CHANGES], "truncated": True}
    return {"changes": changes, "truncated": False}


def _number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not (isinstance(value, float) and not math.isfinite(value))
    )


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (_number(a) and _number(b) and a == b)


def schema_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any] | None:
    """Columns added, removed and retyped between two tables' recorded schemas (None when
    neither side recorded one)."""
    left, right = a.get("schema"), b.get("schema")
    if not isinstance(left, list) and not isinstance(right, list):
        return None
    types_a = _types(left or [])
    types_b = _types(right or [])
    return {
        "added": [{"name": n, "type": t} for n, t in types_b.items() if n not in types_a],
        "removed": [{"name": n, "type": t} for n, t in types_a.items() if n not in types_b],
        "retyped": [
            {"name": n, "a": t, "b": types_b[n]}
            for n, t in types_a.items()
            if n in types_b and types_b[n] != t
        ],
        "columns": [a.get("column_count"), b.get("column_count")],
    }


STAT_KEYS = ("nulls", "distinct", "min", "max")


def column_stats(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """Each column's recorded statistics in A and in B side by side (A's columns first, then
    B's new ones), with numeric deltas; None when neither table recorded statistics."""
    left, right = _stats(a), _stats(b)
    if not left and not right:
        return None
    rows = []
    for name in [*left, *(n for n in right if n not in left)]:
        in_a, in_b = left.get(name), right.get(name)
        delta = {
            key: in_b[key] - in_a[key]
            for key in STAT_KEYS
            if in_a and in_b and _number(in_a.get(key)) and _number(in_b.get(key))
        }
        rows.append({"name": name, "a": in_a, "b": in_b, "same": in_a == in_b, "delta": delta})
    return rows


def _stats(metadata: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    entries = metadata.get("stats")
    if not isinstance(entries, list):
        return {}
    return {
        str(e["name"]): {key: e[key] for key in STAT_KEYS if key in e}
        for e in entries
        if isinstance(e, dict) and "name" in e
    }


def _types(schema: Iterable[Any]) -> dict[str, str]:
    return {
        str(f.get("name")): str(f.get("type"))
        for f in schema
        if isinstance(f, dict) and "name" in f
    }


def diff_artifacts(stack: Stack, a: Artifact, b: Artifact) -> dict[str, Any]:
    """Artifact `a` against `b`: record fields, schema and column statistics, labels, tags,
    metadata, aspects, producing step and its parameters, and for two JSON reports their
    content."""
    catalog = stack.catalog
    fields = []
    for name in FIELDS:
        left, right = _field(a, name), _field(b, name)
        row: dict[str, Any] = {"field": name, "a": left, "b": right, "same": left == right}
        if _number(left) and _number(right):
            row["delta"] = right - left
        fields.append(row)
    producers = [_producer(stack, art) for art in (a, b)]
    return {
        "a": _identity(a.manifest),
        "b": _identity(b.manifest),
        "fields": fields,
        "schema": schema_changes(a.metadata, b.metadata),
        "column_stats": column_stats(a.metadata, b.metadata),
        "labels": structural(a.labels, b.labels),
        "tags": {"a": catalog.tags(a.id), "b": catalog.tags(b.id)},
        "user_metadata": structural(a.manifest.user_metadata, b.manifest.user_metadata),
        "aspects": structural(catalog.aspects(a.id), catalog.aspects(b.id)),
        "producer": {"a": producers[0], "b": producers[1]},
        "params": structural(
            (producers[0] or {}).get("params", {}), (producers[1] or {}).get("params", {})
        ),
        "content": _content(a, b),
    }


def _identity(m: Manifest) -> dict[str, Any]:
    return {
        "id": m.id,
        "ref": display_ref(m.project, m.name, m.version),
        "project": m.project,
        "name": m.name,
        "version": m.version,
        "created": m.created,
    }


def _field(art: Artifact, name: str) -> Any:
    return art.metadata.get("rows") if name == "rows" else getattr(art, name)


def _producer(stack: Stack, art: Artifact) -> dict[str, Any] | None:
    from .errors import ArtifactNotFound

    found: StepRunRecord | None = None
    if art.manifest.step_run_id:
        try:
            found = stack.catalog.step_run(art.manifest.step_run_id)
        except ArtifactNotFound:
            found = None
    return {
        "run_id": art.run_id,
        "step": art.step,
        "status": found.status if found else None,
        "params": found.params if found else {},
    }


def _content(a: Artifact, b: Artifact) -> dict[str, Any] | None:
    """Two JSON reports' structural diff; None when they are not both JSON reports."""
    if not all(
        art.mime_type == "application/json" and not art.manifest.directory for art in (a, b)
    ):
        return None
    if a.checksum == b.checksum:
        return {"changes": [], "truncated": False, "same": True}
    if max(a.size, b.size) > MAX_CONTENT_BYTES:
        return {"changes": [], "truncated": True, "note": "too large to compare; checksums differ"}
    raw = [art.open().read() for art in (a, b)]
    try:
        left, right = (json.loads(body) for body in raw)
    except ValueError:
        return {"changes": [], "truncated": True, "note": "not JSON; checksums differ"}
    # equal under checksums of two algorithms (an old sha256 one and a blake3 one), or equal
    # but for layout (reports written with `indent=1` before); a diff without changes is not
    # enough: `1` and `1.0` compare equal in Python, not once written again
    same = raw[0] == raw[1] or json.dumps(left) == json.dumps(right)
    return {**structural(left, right), "same": same}


def find_run(stack: Stack, text: str) -> RunRecord:
    """The one run `[PROJECT/]RUN_ID` names, RUN_ID or a unique prefix of it (the short id tables
    print), in PROJECT or, without one, in any project."""
    from .errors import ArtifactNotFound, ConfigError

    project, sep, run_id = text.strip().rpartition("/")
    if not run_id:
        raise ConfigError(f"{text!r:.80} names no run; write [PROJECT/]RUN_ID")
    found = stack.catalog.runs_matching(run_id, project if sep else None)
    where = f" in project {project!r:.80}" if sep else ""
    if not found:
        raise ArtifactNotFound(
            f"no run {run_id!r:.80}{where}; list runs with `flow-artifacts runs`"
        )
    if len(found) > 1:
        raise ConfigError(
            f"run {run_id!r:.80}{where} is ambiguous; give more of its id or PROJECT/RUN_ID"
        )
    return found[0]


def diff_runs(stack: Stack, a: RunRecord, b: RunRecord) -> dict[str, Any]:
    """Run `a` against `b`: status, name, pipeline and duration, then step by step (matched by
    step name and occurrence) status, duration, parameters and outputs by name and checksum."""
    runs = [_run_view(stack, run) for run in (a, b)]
    fields = []
    for name in RUN_FIELDS:
        left, right = runs[0]["run"][name], runs[1]["run"][name]
        row: dict[str, Any] = {"field": name, "a": left, "b": right, "same": left == right}
        if _number(left) and _number(right):
            row["delta"] = right - left
        fields.append(row)
    steps = []
    order = list(runs[0]["steps"]) + [k for k in runs[1]["steps"] if k not in runs[0]["steps"]]
    for key in order:
        left, right = runs[0]["steps"].get(key), runs[1]["steps"].get(key)
        step: dict[str, Any] = {"step": key, "a": left, "b": right}
        if left and right:
            step["params"] = structural(left["params"], right["params"])
            step["outputs"] = structural(left["outputs"], right["outputs"])
            if _number(left["duration_s"]) and _number(right["duration_s"]):
                step["duration_delta"] = right["duration_s"] - left["duration_s"]
        steps.append(step)
    return {"a": runs[0]["run"], "b": runs[1]["run"], "fields": fields, "steps": steps}


def _run_view(stack: Stack, run: RunRecord) -> dict[str, Any]:
    records = stack.catalog.step_runs_of_run(run.project, run.run_id)
    ids = sorted({i for s in records for i in s.outputs})
    known = {m.id: m for m in stack.catalog.by_ids(ids)} if ids else {}
    steps: dict[str, dict[str, Any]] = {}
    for s in records:
        key, seen = s.step, 1
        while key in steps:
            seen += 1
            key = f"{s.step}#{seen}"
        outputs = {
            m.name: {"ref": display_ref(m.project, m.name, m.version), "checksum": m.checksum}
            for m in (known[i] for i in s.outputs if i in known)
        }
        steps[key] = {
            "status": s.status,
            "cached": s.cached,
            "duration_s": _seconds(s.started, s.ended),
            "params": s.params,
            "outputs": outputs,
        }
    view = {**run.to_dict(), "duration_s": _seconds(run.started, run.ended)}
    return {"run": view, "steps": steps}


def _seconds(started: Any, ended: Any) -> float | None:
    return (ended - started).total_seconds() if started and ended else None
