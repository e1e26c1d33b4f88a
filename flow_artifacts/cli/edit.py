"""Commands that add or annotate artifacts, as the API does: upload, label, update."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from .browse import JSON, labels_option
from .completion import complete_project, complete_ref
from .curate import pass_state
from .state import State


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.argument("name")
@click.option("--project", "-p", shell_complete=complete_project, help="Default: the stack's.")
@click.option("--run-id", help="Default: upload-<random>.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option("--description", help="What it is, for people.")
@click.option(
    "--ignore-file",
    "ignore_files",
    multiple=True,
    metavar="FILE",
    help="For a folder: ignore rules to use instead of .artifactignore/.dockerignore.",
)
@click.option("--follow-symlinks", is_flag=True, help="Copy what links point to.")
@JSON
@pass_state
def upload(
    state: State,
    path: Path,
    name: str,
    project: str | None,
    run_id: str | None,
    labels: tuple[str, ...],
    description: str | None,
    ignore_files: tuple[str, ...],
    follow_symlinks: bool,
    as_json: bool,
) -> None:
    """Store a local file or folder as artifact NAME, bytes as they are (`fa.upload_file`)."""
    from ..api import upload_file

    options: dict[str, Any] = {"labels": labels_option(labels)}
    if description is not None:
        options["description"] = description
    art = upload_file(
        path,
        name,
        project,
        run_id=run_id,
        follow_symlinks=follow_symlinks,
        ignore_files=list(ignore_files) or None,
        stack=state.stack,
        **options,
    )
    _done(art, "uploaded", as_json)


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@click.argument("labels", nargs=-1, metavar="KEY=VALUE...")
@click.option("--remove", "removed", multiple=True, metavar="KEY", help="Drop a label; repeatable.")
@JSON
@pass_state
def label(
    state: State, ref: str, labels: tuple[str, ...], removed: tuple[str, ...], as_json: bool
) -> None:
    """Set (or --remove) labels of an artifact version; others are kept."""
    if not labels and not removed:
        raise click.UsageError("give KEY=VALUE labels to set, or --remove KEY")
    patch: dict[str, str | None] = {**labels_option(labels, "LABELS")}
    patch.update(dict.fromkeys(removed))
    _update(state, ref, as_json, labels=patch)


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@click.option("--description", help="Replace the description ('' clears it).")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option("--remove-label", "removed", multiple=True, metavar="KEY", help="Repeatable.")
@click.option(
    "--metadata",
    metavar="JSON",
    help="User metadata to merge, a JSON object; a null value removes a key: '{\"owner\": null}'.",
)
@JSON
@pass_state
def update(
    state: State,
    ref: str,
    description: str | None,
    labels: tuple[str, ...],
    removed: tuple[str, ...],
    metadata: str | None,
    as_json: bool,
) -> None:
    """Change an artifact version's description, labels or user metadata (`fa.update`)."""
    patch: dict[str, str | None] = {**labels_option(labels)}
    patch.update(dict.fromkeys(removed))
    merged = _json_object(metadata) if metadata is not None else None
    if description is None and not patch and merged is None:
        raise click.UsageError("nothing to change: give --description, --label or --metadata")
    _update(state, ref, as_json, labels=patch or None, description=description, metadata=merged)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigError(
            f"--metadata is not JSON ({exc}); give an object, e.g. '{{\"a\": 1}}'"
        ) from None
    if not isinstance(value, dict):
        raise ConfigError("--metadata must be a JSON object, e.g. '{\"a\": 1}'")
    return value


def _update(state: State, ref: str, as_json: bool, **changes: Any) -> None:
    from ..manage import update as update_artifact

    _done(update_artifact(ref, stack=state.existing, **changes), "updated", as_json)


def _done(art: Any, verb: str, as_json: bool) -> None:
    if as_json:
        from .output import emit_json

        emit_json({verb: True, "artifact": art.record()})
    else:
        click.echo(f"{verb} {art.project}/{art.name}@{art.version}")


COMMANDS = [upload, label, update]
