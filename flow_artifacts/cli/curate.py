"""Commands that change things: tag, untag, rm, gc, verify, reindex, trust."""

from __future__ import annotations

import click

from ..refs import artifact_uri
from .output import emit_json, emit_table, error
from .state import State

pass_state = click.make_pass_decorator(State)


@click.command()
@click.argument("ref")
@click.argument("tag")
@pass_state
def tag(state: State, ref: str, tag: str) -> None:
    """Point TAG at an artifact version (moving it from another version)."""
    from ..manage import tag as tag_artifact

    art = tag_artifact(ref, tag, stack=state.stack)
    click.echo(f"{artifact_uri(art.project, art.name, tag=tag)} -> {art.uri}")


@click.command()
@click.argument("ref")
@click.argument("tag")
@pass_state
def untag(state: State, ref: str, tag: str) -> None:
    """Remove TAG from the artifact's name."""
    from ..manage import untag as untag_artifact

    untag_artifact(ref, tag, stack=state.stack)


@click.command()
@click.argument("ref")
@click.option("--all-versions", is_flag=True, help="Every version of the artifact's name.")
@click.option("--force", is_flag=True, help="Even if another artifact's lineage needs it.")
@pass_state
def rm(state: State, ref: str, all_versions: bool, force: bool) -> None:
    """Delete an artifact version (row and bytes)."""
    from ..manage import delete

    ids = delete(ref, all_versions=all_versions, force=force, stack=state.stack)
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
@click.option("--json", "as_json", is_flag=True)
@pass_state
def gc(
    state: State,
    dry_run: bool,
    keep_last: int | None,
    project: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Remove what dead writes left; with --keep-last, old versions.

    Only provable garbage goes: files no artifact owns whose write is dead (its lease expired).
    Refuses when the store holds artifacts this catalog does not know: run reindex first.
    """
    from ..maintenance import gc as collect

    report = collect(
        dry_run=dry_run, keep_last=keep_last, project=project, force=force, stack=state.stack
    )
    verb = "would remove" if dry_run else "removed"
    surplus = [str(m.uri) for m in report.surplus]
    if as_json:
        emit_json(
            {
                "dry_run": dry_run,
                "garbage": report.garbage,
                "uploads": report.uploads,
                "surplus": surplus,
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
    for ref in surplus:
        click.echo(f"{verb} {ref}")
    click.echo(
        f"{verb} {len(report.garbage)} path(s) of dead writes, {len(report.uploads)} "
        f"unfinished upload(s), {len(surplus)} old version(s)",
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
@click.option("--json", "as_json", is_flag=True)
@pass_state
def verify(state: State, refs: tuple[str, ...], check_all: bool, as_json: bool) -> None:
    """Re-hash stored bytes against recorded checksums; exit 1 if any differ."""
    from ..maintenance import verify as check

    if not refs and not check_all:
        raise click.UsageError("give artifact references, or --all")
    results = list(check(None if check_all else list(refs), stack=state.stack))
    bad = [r for r in results if not r.ok]
    if as_json:
        emit_json(
            [
                {
                    "uri": r.manifest.uri,
                    "ok": r.ok,
                    "problem": r.problem,
                }
                for r in results
            ]
        )
    else:
        emit_table(
            ["uri", "status"],
            [
                (
                    str(r.manifest.uri),
                    "ok" if r.ok else r.problem,
                )
                for r in results
            ],
        )
        click.echo(f"{len(results) - len(bad)} ok, {len(bad)} damaged", err=True)
    if bad:
        error(f"{len(bad)} artifact(s) do not match their checksum")
        raise SystemExit(1)


@click.command()
@click.option("--json", "as_json", is_flag=True)
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
@click.argument("ref")
@pass_state
def trust(state: State, ref: str) -> None:
    """Let a pickle that reindex restored from the store be loaded (it runs code: inspect first)."""
    from ..manage import trust_pickle

    art = trust_pickle(ref, stack=state.stack)
    click.echo(f"trusted {art.uri}: its pickle may be loaded on this catalog")


COMMANDS = [tag, untag, rm, gc, verify, reindex, trust]
