"""Commands that read the catalog: ls, show, versions, runs, describe."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from ..errors import ArtifactNotFound
from ..moments import FORMS, when_given
from ..refs import artifact_uri, parse_ref
from .completion import complete_project, complete_ref
from .output import emit_fields, emit_json, emit_table, human_size, paged, when
from .runref import short_run_id
from .state import NOTHING_HERE, State

pass_state = click.make_pass_decorator(State)
JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
WIDE = click.option(
    "--wide", is_flag=True, help="Every column, whole (full run ids); default: fit the terminal."
)


def listing(items: list[Any], next_cursor: str | None = None, total: int | None = None) -> dict:
    """The one JSON shape of every list the CLI prints (see docs/cli.md, "JSON output")."""
    return {"items": items, "next_cursor": next_cursor, "total": total}


def labels_option(values: tuple[str, ...], option: str = "--label") -> dict[str, str]:
    labels = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=option)
        labels[key] = value
    return labels


def labels_filter(values: tuple[str, ...]) -> tuple[dict[str, str], tuple[str, ...]]:
    """`--label KEY=VALUE` items, and `--label KEY` items (the label, whatever its value)."""
    pairs = labels_option(tuple(v for v in values if "=" in v))
    keys = tuple(v for v in values if "=" not in v)
    if any(not key.strip() for key in keys):
        raise click.BadParameter("a label key cannot be empty", param_hint="--label")
    return pairs, keys


def window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """`--since` and `--until`, read before anything else, so a typo is an error everywhere."""
    return (
        None if since is None else when_given(since, "--since"),
        None if until is None else when_given(until, "--until"),
    )


SINCE = click.option("--since", help=f"At or after: {FORMS}; UTC when an ISO time has no zone.")
UNTIL = click.option("--until", help="Before (the same forms as --since).")


@click.command("ls")
@click.argument("project", required=False, shell_complete=complete_project)
@click.option("--name", help="Only this artifact name.")
@click.option("--kind", type=click.Choice(["dataset", "model", "report", "file", "object"]))
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="KEY[=VALUE]",
    help="Has this label (with this value). Repeatable.",
)
@click.option("--tag", help="Only the version carrying this tag.")
@click.option("--search", "text", help="Text (any case) in the name, description or labels.")
@SINCE
@UNTIL
@click.option("--run", "run_ref", metavar="[PROJECT/]RUN", help="Only what this run made.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--cursor", help="Continue after a previous page (printed at its end).")
@WIDE
@JSON
@pass_state
@paged
def ls(
    state: State,
    project: str | None,
    name: str | None,
    kind: str | None,
    labels: tuple[str, ...],
    tag: str | None,
    text: str | None,
    since: str | None,
    until: str | None,
    run_ref: str | None,
    limit: int,
    cursor: str | None,
    wide: bool,
    as_json: bool,
) -> None:
    """List artifacts, newest first, one page at a time, and how many match in all."""
    start, end = window(since, until)
    if state.nothing_here():
        _nothing_here(project or run_ref, as_json)
        return
    from ..manage import list_page

    run_id = None
    if run_ref is not None:
        from ..compare import find_run

        found = find_run(state.stack, run_ref if project is None else f"{project}/{run_ref}")
        project, run_id = found.project, found.run_id
    pairs, keys = labels_filter(labels)
    page = list_page(
        project,
        name=name,
        kind=kind,
        labels=pairs,
        label_keys=keys,
        tag=tag,
        text=text,
        since=start,
        until=end,
        run_id=run_id,
        page_size=limit,
        cursor=cursor,
        total=True,
        stack=state.stack,
    )
    if not page.items and cursor is None and project is not None and run_id is None:
        _must_exist(state, artifact_uri(project, name or "x"), project=name is None)
    if as_json:
        emit_json(listing([a.record() for a in page.items], page.next_cursor, page.total))
        return
    emit_table(
        ["artifact", "kind", "materializer", "size", "created", "step"],
        [
            (
                f"{a.project}/{a.name}@{a.version}",
                a.kind,
                a.materializer,
                human_size(a.size),
                a.created,
                _step(a, wide),
            )
            for a in page.items
        ],
        empty="no artifacts",
        wide=wide,
        optional=(5, 2),
    )
    if page.items:
        click.echo(f"{len(page.items)} shown of {page.total} artifact(s)", err=True)
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}", err=True)


def _nothing_here(asked: str | None, as_json: bool) -> None:
    """An empty answer, or (when a project or run was asked for) an error, with the reason."""
    if asked is not None:
        missing = ArtifactNotFound(f"no artifacts of {asked!r}: {NOTHING_HERE}")
        missing.hint = ""
        raise missing
    if as_json:
        emit_json(listing([], None, 0))
    click.echo(f"no artifacts ({NOTHING_HERE})", err=True)


def _step(a: Any, wide: bool) -> str:
    return f"{run_label(a.run_id, wide)}/{a.step}"


def run_label(run_id: str, wide: bool) -> str:
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
@click.argument("ref", shell_complete=complete_ref)
@WIDE
@JSON
@pass_state
@paged
def show(state: State, ref: str, wide: bool, as_json: bool) -> None:
    """Everything recorded about one artifact."""
    from ..api import get_artifact
    from ..ui.views import neighbours

    art = get_artifact(ref, stack=state.existing)
    near = neighbours(state.stack, art)
    names = [named(a) for a in near["input_artifacts"]]
    used_by = [named(a) for a in near["used_by"]]
    record = {**art.record(), "tags": art.tags, "aspects": art.aspects}
    if as_json:
        emit_json({**record, "input_refs": names, "used_by": used_by})
        return
    del record["uri"]  # in --json; people read `project/name@version` (and any ref takes it)
    record = {"ref": f"{art.project}/{art.name}@{art.version}", **record}
    record["run_id"] = run_label(art.run_id, wide)
    record["size"] = f"{human_size(art.size)} ({art.size} bytes)"
    record["created"] = when(record["created"])
    record["updated"] = when(record["updated"])
    record["inputs"] = ", ".join(names)
    record["used_by"] = ", ".join(used_by) + (
        f" (and {near['used_by_count'] - len(used_by)} more)"
        if near["used_by_count"] > len(used_by)
        else ""
    )
    emit_fields(record, wide=wide)


def named(summary: dict[str, Any]) -> str:
    """`project/name@version` of an artifact summary; a deleted one by its id."""
    return f"{summary['id']} (deleted)" if summary.get("missing") else str(summary["ref"])


@click.command()
@click.argument("name", shell_complete=complete_ref)
@click.option("--project", "-p", help="Project of NAME (or give NAME as project/name).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@WIDE
@JSON
@pass_state
@paged
def versions(
    state: State, name: str, project: str | None, limit: int, wide: bool, as_json: bool
) -> None:
    """Versions of one artifact name, newest first, with their tags."""
    from ..artifact import Artifact

    stack = state.existing
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
        handles = [Artifact(m, store=stack.store, stack=stack) for m in page.items]
        records = [{**a.record(), "tags": tags.get(a.version, [])} for a in handles]
        emit_json(listing(records, page.next_cursor))
        return
    emit_table(
        ["version", "created", "size", "run", "tags"],
        [
            (
                m.version,
                when(m.created),
                human_size(m.size),
                run_label(m.run_id, wide),
                ",".join(sorted(tags.get(m.version, []))),
            )
            for m in page.items
        ],
        empty=f"no versions of {artifact_uri(project, name)}",
        wide=wide,
    )


@click.command()
@click.argument("project", required=False, shell_complete=complete_project)
@click.option(
    "--status", type=click.Choice(["running", "completed", "failed", "crashed", "external"])
)
@click.option("--pipeline", help="Only runs of this pipeline.")
@SINCE
@UNTIL
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--cursor", help="Continue after a previous page (printed at its end).")
@WIDE
@JSON
@pass_state
@paged
def runs(
    state: State,
    project: str | None,
    status: str | None,
    pipeline: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    cursor: str | None,
    wide: bool,
    as_json: bool,
) -> None:
    """Runs with their status, newest first, one page at a time; `--since`/`--until` by start."""
    start, end = window(since, until)
    if state.nothing_here():
        emit_json(listing([])) if as_json else click.echo(f"no runs ({NOTHING_HERE})", err=True)
        return
    rows, next_cursor = state.stack.catalog.runs_page(
        project,
        status=status,
        pipeline=pipeline,
        since=start,
        until=end,
        page_size=limit,
        cursor=cursor,
    )
    if as_json:
        emit_json(listing([r.to_dict() for r in rows], next_cursor))
        return
    emit_table(
        ["project", "run", "name", "status", "started", "ended"],
        [
            (r.project, run_label(r.run_id, wide), r.name, r.status, r.started, r.ended)
            for r in rows
        ],
        empty="no runs",
        wide=wide,
        optional=(0, 5),
        status=3,
    )
    if next_cursor:
        click.echo(f"more: --cursor {next_cursor}", err=True)


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@WIDE
@JSON
@pass_state
@paged
def describe(state: State, ref: str, limit: int, wide: bool, as_json: bool) -> None:
    """One artifact with its name's versions, tags and its metadata aspects (`fa.describe`)."""
    from ..manage import describe as describe_artifact

    found = describe_artifact(ref, page_size=limit, stack=state.existing)
    art = found.artifact
    if as_json:
        versions_ = listing([v.record() for v in found.versions.items], found.versions.next_cursor)
        emit_json(
            {**art.record(), "tags": found.tags, "aspects": found.aspects, "versions": versions_}
        )
        return
    emit_fields(
        {
            "ref": f"{art.project}/{art.name}@{art.version}",
            "kind": art.kind,
            "size": human_size(art.size),
            "created": when(art.created),
            "description": art.description,
            "labels": art.labels,
            "tags": ", ".join(f"{t}@{v}" for t, v in sorted(found.tags.items())),
            "aspects": ", ".join(sorted(found.aspects)),
        },
        wide=wide,
    )
    click.echo("")
    emit_table(
        ["version", "created", "size", "run"],
        [
            (v.version, v.created, human_size(v.size), run_label(v.run_id, wide))
            for v in found.versions.items
        ],
        wide=wide,
    )


COMMANDS = [ls, show, versions, runs, describe]
