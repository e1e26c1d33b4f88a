"""`diff`: two artifacts or two runs side by side, as `flow_artifacts.compare` finds them."""

from __future__ import annotations

import json
from typing import Any

import click

from ..compare import STAT_KEYS
from .output import emit_json, emit_table, paged, safe
from .runref import short_run_id
from .state import State

pass_state = click.make_pass_decorator(State)
SHOWN_CHARS = 60
CHECKSUM_CHARS = 16


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--runs", "as_runs", is_flag=True, help="A and B are runs ([PROJECT/]RUN_ID).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--wide", is_flag=True, help="Whole values; default: fit the terminal.")
@pass_state
@paged
def diff(state: State, a: str, b: str, as_runs: bool, as_json: bool, wide: bool) -> None:
    """What changed from artifact A to artifact B (or, with --runs, from run A to run B).

    Artifacts: record fields, schema (columns added, removed, retyped), labels, tags, user
    metadata, aspects, producing step and parameters, and for JSON reports their content with
    numeric deltas. Runs: status, duration, and step by step parameters and outputs.
    """
    from ..api import get_artifact
    from ..compare import diff_artifacts, diff_runs, find_run

    stack = state.existing
    if as_runs:
        result = diff_runs(stack, find_run(stack, a), find_run(stack, b))
    else:
        result = diff_artifacts(stack, get_artifact(a, stack=stack), get_artifact(b, stack=stack))
    if as_json:
        emit_json(result)
    elif as_runs:
        _print_runs(result, wide)
    else:
        _print_artifacts(result, wide)


def _print_artifacts(d: dict[str, Any], wide: bool) -> None:
    click.echo(f"a: {safe(d['a']['ref'])}\nb: {safe(d['b']['ref'])}\n")
    _fields(d["fields"], wide)
    schema = d["schema"]
    if schema is not None:
        lines = [f"  + {c['name']} ({c['type']})" for c in schema["added"]]
        lines += [f"  - {c['name']} ({c['type']})" for c in schema["removed"]]
        lines += [f"  ~ {c['name']}: {c['a']} -> {c['b']}" for c in schema["retyped"]]
        _section("schema", lines or ["  (same columns and types)"])
    if d.get("column_stats"):
        _column_stats(d["column_stats"], wide)
    tags = d["tags"]
    if tags["a"] != tags["b"]:
        _section(
            "tags", [f"  a: {', '.join(tags['a']) or '-'}", f"  b: {', '.join(tags['b']) or '-'}"]
        )
    for name in ("labels", "user_metadata", "aspects", "params", "content"):
        if d[name] is not None:
            _changes(name, d[name])
    producers = d["producer"]
    if producers["a"] != producers["b"]:
        lines = [f"  {side}: {_step(producers[side], wide)}" for side in ("a", "b")]
        _section("producer", lines)


def _column_stats(rows: list[dict[str, Any]], wide: bool) -> None:
    """Each column's statistics, A and B side by side in one cell (`3 -> 5 (+2)`), so the
    table keeps five columns whatever the terminal; a column one side lacks shows `-`."""

    def cell(row: dict[str, Any], key: str) -> str:
        left, right = (row[side].get(key) if row[side] else None for side in ("a", "b"))
        if row["a"] and row["b"] and left == right:
            return _short(left)
        delta = row["delta"].get(key)
        shown = f"{_stat(row['a'], key)} -> {_stat(row['b'], key)}"
        return shown + (f" ({_signed(delta)})" if delta is not None else "")

    click.echo("\ncolumn statistics")
    emit_table(
        ["column", *STAT_KEYS],
        [(row["name"], *(cell(row, key) for key in STAT_KEYS)) for row in rows],
        wide=wide,
    )


def _stat(side: dict[str, Any] | None, key: str) -> str:
    return "-" if side is None or key not in side else _short(side[key]) or "null"


def _print_runs(d: dict[str, Any], wide: bool) -> None:
    for side in ("a", "b"):
        run = d[side]
        click.echo(f"{side}: {safe(run['project'])}/{safe(_run(run['run_id'], wide))}")
    click.echo("")
    _fields(d["fields"], wide)
    rows = []
    for s in d["steps"]:
        left, right = s["a"] or {}, s["b"] or {}
        changed = [name for name in ("params", "outputs") if s.get(name) and s[name]["changes"]]
        rows.append(
            (
                s["step"],
                left.get("status", "-"),
                right.get("status", "-"),
                _num(left.get("duration_s")),
                _num(right.get("duration_s")),
                _signed(s.get("duration_delta")),
                ", ".join(changed)
                or ("" if left and right else "only in " + ("b" if right else "a")),
            )
        )
    click.echo("")
    headers = ["step", "status a", "status b", "time a", "time b", "delta", "changed"]
    emit_table(headers, rows, wide=wide)
    for s in d["steps"]:
        for name in ("params", "outputs"):
            if s.get(name) and s[name]["changes"]:
                _changes(f"{s['step']} {name}", s[name])


def _fields(fields: list[dict[str, Any]], wide: bool) -> None:
    emit_table(
        ["field", "a", "b", "change"],
        [
            (
                f["field"],
                _short(f["a"], f["field"]),
                _short(f["b"], f["field"]),
                "" if f["same"] else _signed(f.get("delta")) or "changed",
            )
            for f in fields
        ],
        wide=wide,
    )


def _changes(title: str, found: dict[str, Any]) -> None:
    if found.get("same") or not (found["changes"] or found.get("note")):
        return
    marks = {"added": "+", "removed": "-", "changed": "~"}
    lines = []
    for c in found["changes"]:
        if c["change"] == "changed":
            delta = f" ({_signed(c['delta'])})" if "delta" in c else ""
            lines.append(f"  ~ {c['path']}: {_short(c['a'])} -> {_short(c['b'])}{delta}")
        else:
            value = c["b"] if c["change"] == "added" else c["a"]
            lines.append(f"  {marks[c['change']]} {c['path']}: {_short(value)}")
    if found.get("note"):
        lines.append(f"  ({found['note']})")
    elif found["truncated"]:
        lines.append("  (more changes not shown; see --json)")
    _section(title, lines)


def _section(title: str, lines: list[str]) -> None:
    click.echo(f"\n{title}")
    click.echo("\n".join(safe(line) for line in lines))


def _step(p: dict[str, Any] | None, wide: bool) -> str:
    if not p:
        return "-"
    status = f" ({p['status']})" if p.get("status") else ""
    return f"{_run(p['run_id'], wide)}/{p['step']}{status}"


def _run(run_id: str, wide: bool) -> str:
    return run_id if wide else short_run_id(run_id)


def _short(value: Any, field: str = "") -> str:
    if value is None:
        return ""
    if field == "checksum" and isinstance(value, str):  # enough to tell them apart; --json has all
        return value[: value.find(":") + 1 + CHECKSUM_CHARS]
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _num(value: Any) -> str:
    return "" if value is None else f"{value:.3g}"


def _signed(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:+g}" if isinstance(value, float) else f"{value:+d}"


COMMANDS = [diff]
