"""`lineage`: where an artifact came from (or what was made from it), as a tree, Mermaid,
OpenLineage events or JSON."""

from __future__ import annotations

from typing import Any

import click

from ..refs import display_ref
from .browse import WIDE, run_label
from .completion import complete_ref
from .output import emit_json, out, paged, paint, safe
from .state import State

pass_state = click.make_pass_decorator(State)
TREE_INDENT = 40
"""Levels drawn as branches; deeper ones print their depth, `(41) `, instead of indenting."""
FAILED = ("failed", "crashed")
BRANCH, LAST, PIPE, SPACE = "├── ", "└── ", "│   ", "    "
REPEATED = "↑ repeated, expanded above"


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@click.option("--down", is_flag=True, help="What was made from it, instead of what it came from.")
@click.option("--depth", type=click.IntRange(0), help="Step-run hops (default: all).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tree", "mermaid", "openlineage", "json"]),
    default="tree",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@WIDE
@pass_state
@paged
def lineage(
    state: State, ref: str, down: bool, depth: int | None, fmt: str, as_json: bool, wide: bool
) -> None:
    """Upstream (or --down, downstream) lineage of an artifact.

    The tree marks a node met again (`↑ repeated`; its branches are drawn once) and a failed
    step (`✗ failed`).
    """
    from ..api import lineage as walk

    graph = walk(ref, "downstream" if down else "upstream", depth, stack=state.existing)
    if as_json or fmt == "json":
        emit_json(_as_json(graph))
    elif fmt == "mermaid":
        click.echo(graph.to_mermaid())
    elif fmt == "openlineage":
        emit_json(graph.to_openlineage())
    else:
        _print_tree(graph, down, wide)


def _label(graph: Any, node: str, wide: bool) -> tuple[str, str | None]:
    if node in graph.artifacts:
        m = graph.artifacts[node]
        return display_ref(m.project, m.name, m.version), None
    s = graph.step_runs[node]
    text = f"step {run_label(s.run_id, wide)}/{s.step}" + (" (cached)" if s.cached else "")
    if s.status in FAILED:
        return f"{text} ✗ {s.status}", "bad"
    return text, "dim"


def _print_tree(graph: Any, down: bool, wide: bool) -> None:
    """Depth first from the root, without recursion (lineage can be any depth)."""
    children = graph.adjacency(down=down)
    seen: set[str] = set()
    pending: list[tuple[str, int, str, bool]] = [(graph.root, 0, "", True)]
    while pending:
        node, level, prefix, last = pending.pop()
        text, role = _label(graph, node, wide)
        repeated = node in seen
        if level == 0:
            branch, inner = "", ""
        elif level > TREE_INDENT:
            branch, inner = f"({level}) ", prefix
        else:
            branch, inner = LAST if last else BRANCH, prefix + (SPACE if last else PIPE)
        mark = "  " + paint(REPEATED, "dim") if repeated else ""
        out(f"{prefix}{branch}{paint(safe(text), role)}{mark}")
        if not repeated:
            seen.add(node)
            below = children.get(node, [])
            pending.extend(
                (child, level + 1, inner, i == len(below) - 1)
                for i, child in reversed(list(enumerate(below)))
            )


def _as_json(graph: Any) -> dict[str, Any]:
    """Nodes and edges: artifacts as `project/name@version` records, step runs with status."""
    artifacts = [
        {
            "id": m.id,
            "ref": display_ref(m.project, m.name, m.version),
            "kind": m.kind,
            "project": m.project,
        }
        for m in graph.artifacts.values()
    ]
    steps = [
        {
            "id": s.id,
            "project": s.project,
            "run_id": s.run_id,
            "step": s.step,
            "status": s.status,
            "cached": s.cached,
        }
        for s in graph.step_runs.values()
    ]
    return {
        "root": graph.root,
        "direction": graph.direction,
        "artifacts": artifacts,
        "step_runs": steps,
        "edges": [{"from": a, "to": b} for a, b in sorted(graph.edges)],
    }


COMMANDS = [lineage]
