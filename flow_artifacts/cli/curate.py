"""Commands that change things: tag, untag, rm, gc, verify, reindex."""

from __future__ import annotations

from datetime import timedelta

import click

from .main import State
from .output import emit_json, emit_table, error

pass_state = click.make_pass_decorator(State)


@click.command()
@click.argument("ref")
@click.argument("tag")
@pass_state
def tag(state: State, ref: str, tag: str) -> None:
    """Point TAG at an artifact version (moving it from another version)."""
    from ..manage import tag as tag_artifact

    art = tag_artifact(ref, tag, stack=state.stack)
    click.echo(f"store://{art.project}/{art.name}:{tag} -> {art.uri}")


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
@click.option(
    "--grace",
    default=15,
    show_default=True,
    type=click.IntRange(0),
    help="Minutes an orphan must be old, so writes in flight are spared.",
)
@click.option("--project", help="Limit retention to one project.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def gc(
    state: State,
    dry_run: bool,
    keep_last: int | None,
    grace: int,
    project: str | None,
    as_json: bool,
) -> None:
    """Remove orphaned bytes, manifests and temporaries; with --keep-last, old versions."""
    from ..maintenance import gc as collect

    report = collect(
        dry_run=dry_run,
        keep_last=keep_last,
        grace=timedelta(minutes=grace),
        project=project,
        stack=state.stack,
    )
    verb = "would remove" if dry_run else "removed"
    if as_json:
        emit_json(
            {
                "dry_run": dry_run,
                "orphan_manifests": report.orphan_manifests,
                "orphan_data": report.orphan_data,
                "expired_temporaries": report.expired_temporaries,
                "surplus": [f"store://{m.project}/{m.name}@{m.version}" for m in report.surplus],
            }
        )
        return
    for path in report.paths:
        click.echo(f"{verb} {path}")
    for m in report.surplus:
        click.echo(f"{verb} store://{m.project}/{m.name}@{m.version}")
    click.echo(
        f"{verb} {len(report.paths)} orphan path(s), {len(report.surplus)} old version(s)", err=True
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
                    "uri": f"store://{r.manifest.project}/{r.manifest.name}@{r.manifest.version}",
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
                    f"store://{r.manifest.project}/{r.manifest.name}@{r.manifest.version}",
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
@pass_state
def reindex(state: State, as_json: bool) -> None:
    """Rebuild the catalog from the store's manifests and journal; exit 1 if any were skipped."""
    from ..manage import reindex as rebuild

    report = rebuild(stack=state.stack)
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


COMMANDS = [tag, untag, rm, gc, verify, reindex]
