"""Commands that change things: tag, untag, rm, gc, verify, reindex, trust.

Destructive ones (rm, gc) ask first when a person is at the terminal (stdin and stderr are
TTYs), saying what would go; `--yes` skips the question, and scripts are never asked.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from ..refs import display_ref
from .browse import listing
from .completion import complete_ref
from .output import emit_json, emit_table, error, paged
from .state import State

pass_state = click.make_pass_decorator(State)
YES = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def confirm(question: str, yes: bool) -> None:
    """Ask `question` when someone can answer; a "no" ends the command with exit code 1."""
    if yes or not (sys.stdin.isatty() and sys.stderr.isatty()):
        return
    if not click.confirm(question, default=False, err=True):
        click.echo("nothing changed", err=True)
        raise SystemExit(1)


def _ref(art: object) -> str:
    return display_ref(art.project, art.name, art.version)  # type: ignore[attr-defined]


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@click.argument("tag")
@JSON
@pass_state
def tag(state: State, ref: str, tag: str, as_json: bool) -> None:
    """Point TAG at an artifact version, saying when it moves from another version."""
    from ..api import get_artifact
    from ..manage import tag as tag_artifact

    art = get_artifact(ref, stack=state.existing)
    before = state.stack.catalog.tags_of_name(art.project, art.name).get(tag)
    art = tag_artifact(art, tag, stack=state.stack)
    moved = before if before is not None and before != art.version else None
    if as_json:
        emit_json({"tag": tag, "moved_from": moved, "artifact": art.record()})
    elif moved is not None:
        old = display_ref(art.project, art.name, moved)
        click.echo(f"moved tag {tag!r} from {old} to {_ref(art)}")
    elif before is not None:
        click.echo(f"tag {tag!r} was already on {_ref(art)}")
    else:
        click.echo(f"tagged {_ref(art)} as {tag!r}")


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@click.argument("tag")
@JSON
@pass_state
def untag(state: State, ref: str, tag: str, as_json: bool) -> None:
    """Remove TAG from the artifact's name."""
    from ..api import get_artifact
    from ..manage import untag as untag_artifact

    art = get_artifact(ref, stack=state.existing)
    untag_artifact(art, tag, stack=state.stack)
    if as_json:
        emit_json({"untagged": tag, "artifact": art.record()})
    else:
        click.echo(f"removed tag {tag!r} from {art.project}/{art.name}")


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@click.option("--all-versions", is_flag=True, help="Every version of the artifact's name.")
@click.option("--force", is_flag=True, help="Even if another artifact's lineage needs it.")
@YES
@JSON
@pass_state
def rm(state: State, ref: str, all_versions: bool, force: bool, yes: bool, as_json: bool) -> None:
    """Delete an artifact version (row and bytes); asks first on a terminal."""
    from ..api import get_artifact
    from ..manage import delete

    art = get_artifact(ref, stack=state.existing)
    if all_versions:
        key = (art.project, art.name)
        count = state.stack.catalog.names_info([key])[key]["versions"]
        confirm(f"delete all {count} version(s) of {art.project}/{art.name}?", yes)
    else:
        confirm(f"delete {_ref(art)}?", yes)
    ids = delete(art, all_versions=all_versions, force=force, stack=state.stack)
    if as_json:
        emit_json({"deleted": ids})
    else:
        click.echo(f"deleted {len(ids)} artifact(s)")


@click.command()
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@click.option("--keep-last", type=click.IntRange(1), help="Keep this many versions per name.")
@click.option("--project", help="Limit retention to one project.")
@click.option(
    "--force",
    is_flag=True,
    help="Run even if the store holds artifacts this catalog does not know (they are kept).",
)
@YES
@JSON
@pass_state
def gc(
    state: State,
    dry_run: bool,
    keep_last: int | None,
    project: str | None,
    force: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Remove what dead writes left; with --keep-last, old versions.

    Only provable garbage goes: files no artifact owns whose write is dead (its lease expired).
    Refuses when the store holds artifacts this catalog does not know: run reindex first.
    On a terminal it first says what would go and asks.
    """
    from ..maintenance import gc as collect

    def run(dry: bool) -> Any:
        return collect(
            dry_run=dry, keep_last=keep_last, project=project, force=force, stack=state.stack
        )

    report = None
    if not dry_run and not yes and sys.stdin.isatty() and sys.stderr.isatty():
        plan = run(True)
        if plan.garbage or plan.uploads or plan.surplus:
            confirm(
                f"remove {len(plan.garbage)} path(s) of dead writes, {len(plan.uploads)} "
                f"unfinished upload(s) and {len(plan.surplus)} old version(s)?",
                yes,
            )
        else:  # nothing to ask about: what the plan found is the report
            report, dry_run = plan, True
    report = report or run(dry_run)
    verb = "would remove" if dry_run else "removed"
    if as_json:
        emit_json(
            {
                "dry_run": dry_run,
                "garbage": report.garbage,
                "uploads": report.uploads,
                "surplus": [str(m.uri) for m in report.surplus],
                "unaccounted": report.unaccounted,
                "unknown_manifests": report.unknown_manifests,
                "unreadable": report.unreadable,
            }
        )
        return
    for path in report.garbage:
        click.echo(f"{verb} {path}")
    for path in report.uploads:
        click.echo(f"{verb} unfinished upload {path}")
    for manifest in report.surplus:
        click.echo(f"{verb} {_ref(manifest)}")
    click.echo(
        f"{verb} {len(report.garbage)} path(s) of dead writes, {len(report.uploads)} "
        f"unfinished upload(s), {len(report.surplus)} old version(s)",
        err=True,
    )
    if report.unaccounted or report.unreadable:
        click.echo(
            f"kept {len(report.unaccounted)} file(s) no artifact owns and no recorded write "
            f"made, and what {len(report.unreadable)} unreadable write record(s) cover: gc "
            "cannot prove them garbage (see --json)",
            err=True,
        )


@click.command()
@click.argument("refs", nargs=-1)
@click.option("--all", "check_all", is_flag=True, help="Every artifact in the catalog.")
@JSON
@pass_state
@paged
def verify(state: State, refs: tuple[str, ...], check_all: bool, as_json: bool) -> None:
    """Re-hash stored bytes against recorded checksums; exit 1 if any differ."""
    from ..maintenance import verify as check

    if not refs and not check_all:
        raise click.UsageError("give artifact references, or --all")
    results = list(check(None if check_all else list(refs), stack=state.existing))
    bad = [r for r in results if not r.ok]
    if as_json:
        items = [{"uri": r.manifest.uri, "ok": r.ok, "problem": r.problem} for r in results]
        emit_json(listing(items, None, len(items)))
    else:
        emit_table(
            ["artifact", "status", "problem"],
            [(_ref(r.manifest), "ok" if r.ok else "damaged", r.problem or "") for r in results],
            status=1,
        )
        click.echo(f"{len(results) - len(bad)} ok, {len(bad)} damaged", err=True)
    if bad:
        error(f"{len(bad)} artifact(s) do not match their checksum")
        raise SystemExit(1)


@click.command()
@JSON
@click.option(
    "--trust-pickles",
    is_flag=True,
    help="Let restored pickles be loaded: only if you trust everyone who can write the store.",
)
@pass_state
def reindex(state: State, as_json: bool, trust_pickles: bool) -> None:
    """Rebuild the catalog from the store's manifests and journal; exit 1 if any were skipped.

    Restored pickles cannot be loaded until trusted (`trust REF`, or --trust-pickles)."""
    from ..manage import reindex as rebuild

    report = rebuild(trust_pickles=trust_pickles, stack=state.stack)
    if as_json:
        skipped = [{"path": path, "problem": problem} for path, problem in report.skipped]
        emit_json({"added": report.added, "skipped": skipped})
    else:
        for path, problem in report.skipped:
            click.echo(f"skipped {path}: {problem}")
        click.echo(f"added {report.added} artifact(s) to the catalog")
    if report.skipped:
        error(f"{len(report.skipped)} manifest(s) or journal record(s) could not be used")
        raise SystemExit(1)


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@JSON
@pass_state
def trust(state: State, ref: str, as_json: bool) -> None:
    """Let a pickle that reindex restored from the store be loaded (it runs code: inspect first)."""
    from ..manage import trust_pickle

    art = trust_pickle(ref, stack=state.existing)
    if as_json:
        emit_json({"trusted": True, "artifact": art.record()})
    else:
        click.echo(f"trusted {_ref(art)}: its pickle may be loaded on this catalog")


COMMANDS = [tag, untag, rm, gc, verify, reindex, trust]
