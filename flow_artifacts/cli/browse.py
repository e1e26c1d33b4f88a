"""Commands that read: ls, show, versions, runs, lineage, cat, get."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from datetime import datetime
from typing import Any

import click

from ..errors import ArtifactNotFound, ConfigError, UnsupportedOperation, shown_path
from ..moments import parse_moment
from ..refs import artifact_uri, display_ref, parse_ref
from .output import emit_fields, emit_json, emit_table, human_size, safe
from .runref import short_run_id
from .state import State

pass_state = click.make_pass_decorator(State)
JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
WIDE = click.option("--wide", is_flag=True, help="Full run ids instead of their first characters.")
CAT_ROWS = 10
CAT_LIMIT = 1 << 20
TREE_INDENT = 40


def _labels(values: tuple[str, ...]) -> dict[str, str]:
    labels = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--label")
        labels[key] = value
    return labels


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_moment(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date or time", param_hint=option
        ) from None


@click.command("ls")
@click.argument("project", required=False)
@click.option("--name", help="Only this artifact name.")
@click.option("--kind", type=click.Choice(["dataset", "model", "report", "file", "object"]))
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option("--since", help="Created at or after (ISO date/time, UTC if no zone).")
@click.option("--until", help="Created before (ISO date/time).")
@click.option("--run", "run_ref", metavar="[PROJECT/]RUN", help="Only what this run made.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--cursor", help="Continue after a previous page (printed at its end).")
@WIDE
@JSON
@pass_state
def ls(
    state: State,
    project: str | None,
    name: str | None,
    kind: str | None,
    labels: tuple[str, ...],
    since: str | None,
    until: str | None,
    run_ref: str | None,
    limit: int,
    cursor: str | None,
    wide: bool,
    as_json: bool,
) -> None:
    """List artifacts, newest first, one page at a time, and how many match in all."""
    if state.nothing_here():
        _nothing_here(project or run_ref, as_json)
        return
    from ..manage import list_page

    run_id = None
    if run_ref is not None:
        from ..compare import find_run

        found = find_run(state.stack, run_ref if project is None else f"{project}/{run_ref}")
        project, run_id = found.project, found.run_id
    page = list_page(
        project,
        name=name,
        kind=kind,
        labels=_labels(labels),
        since=_moment(since, "--since"),
        until=_moment(until, "--until"),
        run_id=run_id,
        page_size=limit,
        cursor=cursor,
        total=True,
        stack=state.stack,
    )
    if not page.items and cursor is None and project is not None and run_id is None:
        _must_exist(state, artifact_uri(project, name or "x"), project=name is None)
    if as_json:
        emit_json(
            {
                "items": [a.record() for a in page.items],
                "next_cursor": page.next_cursor,
                "total": page.total,
            }
        )
        return
    emit_table(
        ["uri", "kind", "materializer", "size", "created", "step"],
        [
            (
                a.uri,
                a.kind,
                a.materializer,
                human_size(a.size),
                a.created,
                f"{_run(a.run_id, wide)}/{a.step}",
            )
            for a in page.items
        ],
        empty="no artifacts",
    )
    if page.items:
        click.echo(f"{len(page.items)} shown of {page.total} artifact(s)", err=True)
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}", err=True)


NOTHING_HERE = (
    "no stack here: no --stack, no FLOW_ARTIFACTS_STACK, no flow_artifacts.yaml in this folder "
    "or its parents, and no .flow_artifacts folder; run `flow-artifacts demo` to make one, or "
    "give --stack FILE"
)


def _nothing_here(asked: str | None, as_json: bool) -> None:
    """An empty answer, or (when a project or run was asked for) an error, with the reason."""
    if asked is not None:
        raise ArtifactNotFound(f"no artifacts of {asked!r}: {NOTHING_HERE}")
    if as_json:
        emit_json({"items": [], "next_cursor": None, "total": 0})
    click.echo(f"no artifacts ({NOTHING_HERE})", err=True)


def _step(a: Any, wide: bool) -> str:
    return f"{_run(a.run_id, wide)}/{a.step}"


def _run(run_id: str, wide: bool) -> str:
    return run_id if wide else short_run_id(run_id)


def _must_exist(state: State, uri: str, *, project: bool = False) -> None:
    """Raise `ArtifactNotFound` when `uri` names an unknown project (or, unless `project`,
    name), saying what exists nearby: a typo must not read as an empty listing."""
    hint = state.stack.catalog.nearby(uri)
    if hint.startswith("project ") and (not project or "has no artifacts" in hint):
        raise ArtifactNotFound(hint)
    if not project and "has no name" in hint:
        raise ArtifactNotFound(hint)


@click.command()
@click.argument("ref")
@JSON
@pass_state
def show(state: State, ref: str, as_json: bool) -> None:
    """Everything recorded about one artifact."""
    from ..api import get_artifact
    from ..ui.views import neighbours

    art = get_artifact(ref, stack=state.stack)
    near = neighbours(state.stack, art)
    names = [named(a) for a in near["input_artifacts"]]
    used_by = [named(a) for a in near["used_by"]]
    record = {**art.record(), "tags": art.tags, "aspects": art.aspects}
    if as_json:
        emit_json({**record, "input_refs": names, "used_by": used_by})
        return
    record["size"] = f"{human_size(art.size)} ({art.size} bytes)"
    record["inputs"] = ", ".join(names)
    record["used_by"] = ", ".join(used_by) + (
        f" (and {near['used_by_count'] - len(used_by)} more)"
        if near["used_by_count"] > len(used_by)
        else ""
    )
    emit_fields(record)


def named(summary: dict[str, Any]) -> str:
    """`project/name@version` of an artifact summary; a deleted one by its id."""
    return f"{summary['id']} (deleted)" if summary.get("missing") else str(summary["ref"])


@click.command()
@click.argument("name")
@click.option("--project", "-p", help="Project of NAME (or give NAME as project/name).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@WIDE
@JSON
@pass_state
def versions(
    state: State, name: str, project: str | None, limit: int, wide: bool, as_json: bool
) -> None:
    """Versions of one artifact name, newest first, with their tags."""
    stack = state.stack
    if project is None:
        if "/" in name:
            parsed = parse_ref(name, bare=True)
            project, name = str(parsed.project), str(parsed.name)
        else:
            project = stack.project
    page = stack.catalog.versions(project, name, page_size=limit)
    if not page.items:
        _must_exist(state, artifact_uri(project, name))
    tags: dict[int | None, list[str]] = {}
    for tag, version in stack.catalog.tags_of_name(project, name).items():
        tags.setdefault(version, []).append(tag)
    if as_json:
        emit_json(
            [
                {
                    "version": m.version,
                    "id": m.id,
                    "created": m.created,
                    "size": m.size,
                    "checksum": m.checksum,
                    "tags": tags.get(m.version, []),
                }
                for m in page.items
            ]
        )
        return
    emit_table(
        ["version", "created", "size", "run", "tags"],
        [
            (
                m.version,
                m.created[:19].replace("T", " "),
                human_size(m.size),
                _run(m.run_id, wide),
                ",".join(sorted(tags.get(m.version, []))),
            )
            for m in page.items
        ],
        empty=f"no versions of {artifact_uri(project, name)}",
    )


@click.command()
@click.argument("project", required=False)
@click.option(
    "--status", type=click.Choice(["running", "completed", "failed", "crashed", "external"])
)
@click.option("--pipeline", help="Only runs of this pipeline.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--cursor", help="Continue after a previous page (printed at its end).")
@WIDE
@JSON
@pass_state
def runs(
    state: State,
    project: str | None,
    status: str | None,
    pipeline: str | None,
    limit: int,
    cursor: str | None,
    wide: bool,
    as_json: bool,
) -> None:
    """Runs with their status, newest first, one page at a time."""
    rows, next_cursor = state.stack.catalog.runs_page(
        project, status=status, pipeline=pipeline, page_size=limit, cursor=cursor
    )
    if as_json:
        emit_json([r.to_dict() for r in rows])
    else:
        emit_table(
            ["project", "run", "name", "status", "started", "ended"],
            [(r.project, _run(r.run_id, wide), r.name, r.status, r.started, r.ended) for r in rows],
            empty="no runs",
        )
    if next_cursor:
        click.echo(f"more: --cursor {next_cursor}", err=True)


@click.command()
@click.argument("ref")
@click.option("--down", is_flag=True, help="What was made from it, instead of what it came from.")
@click.option("--depth", type=click.IntRange(0), help="Step-run hops (default: all).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tree", "mermaid", "openlineage"]),
    default="tree",
    show_default=True,
)
@WIDE
@pass_state
def lineage(state: State, ref: str, down: bool, depth: int | None, fmt: str, wide: bool) -> None:
    """Upstream (or --down, downstream) lineage of an artifact."""
    from ..api import lineage as walk

    graph = walk(ref, "downstream" if down else "upstream", depth, stack=state.stack)
    if fmt == "mermaid":
        click.echo(graph.to_mermaid())
    elif fmt == "openlineage":
        emit_json(graph.to_openlineage())
    else:
        _print_tree(graph, down, wide)


def _print_tree(graph: Any, down: bool, wide: bool) -> None:
    """Depth first from the root, without recursion (lineage can be any depth). A node met again
    is printed but not expanded; past `TREE_INDENT` levels the depth is printed, not indented."""
    children = graph.adjacency(down=down)
    seen: set[str] = set()
    lines = []
    pending = [(graph.root, 0)]
    while pending:
        node, level = pending.pop()
        if node in graph.artifacts:
            m = graph.artifacts[node]
            label = display_ref(m.project, m.name, m.version)
        else:
            s = graph.step_runs[node]
            label = f"[step {_run(s.run_id, wide)}/{s.step}{' cached' if s.cached else ''}]"
        indent = "  " * min(level, TREE_INDENT) + (f"({level}) " if level > TREE_INDENT else "")
        lines.append(f"{indent}{safe(label)}")
        if node not in seen:
            seen.add(node)
            pending.extend((child, level + 1) for child in reversed(children.get(node, [])))
    click.echo("\n".join(lines))


@click.command()
@click.argument("ref")
@pass_state
def cat(state: State, ref: str) -> None:
    """Print an artifact: text and JSON as they are, a table's first rows."""
    from ..api import get_artifact

    art = get_artifact(ref, stack=state.stack)
    if art.kind == "dataset" and art.materializer.endswith("parquet"):
        preview = art.metadata.get("preview") or {}
        if preview.get("columns"):
            rows = art.metadata.get("rows")
            emit_table(preview["columns"], preview["data"][:CAT_ROWS], shout=False)
            click.echo(f"({rows} rows)" if rows is not None else "", err=True)
            return
    if art.mime_type == "application/json" or art.mime_type.startswith("text/"):
        if art.size > CAT_LIMIT:
            raise UnsupportedOperation(f"{ref} is {human_size(art.size)}; use `get` for it")
        text = art.open().read().decode("utf-8", errors="replace")
        if art.mime_type == "application/json":
            with contextlib.suppress(ValueError):  # an uploaded .json file may not be JSON
                text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        click.echo(text)
        return
    raise UnsupportedOperation(
        f"{ref} is {art.mime_type} ({art.materializer}); save it with `flow-artifacts get`"
    )


@click.command()
@click.argument("ref")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=True), help="Where to write it ('-': stdout)."
)
@click.option("--force", is_flag=True, help="Replace a file or folder already at the output path.")
@pass_state
def get(state: State, ref: str, output: str | None, force: bool) -> None:
    """Download an artifact's bytes (verified; progress for large ones); `-o -` to stdout.

    Without -o it is saved in the current folder as NAME-vVERSION plus its extension, named from
    the catalog; an existing file is replaced only with --force.
    """
    from pathlib import Path

    from ..api import get_artifact

    art = get_artifact(ref, stack=state.stack)
    if output == "-":
        if art.manifest.directory:
            raise UnsupportedOperation(f"{ref} is a directory; give -o a folder to put it in")
        out = sys.stdout.buffer
        for chunk in art.as_stream():  # verified: a damaged artifact still ends in an error
            out.write(chunk)
        return
    target = Path(output or ".")
    if target.is_dir():
        target = target / art.file_name
    if os.path.lexists(target) and not force:
        raise ConfigError(
            f"{shown_path(target)} already exists; pass --force to replace it, or -o another path"
        )
    path = art.download(target)
    click.echo(str(path))


COMMANDS = [ls, show, versions, runs, lineage, cat, get]
