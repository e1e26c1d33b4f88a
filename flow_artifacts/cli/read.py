"""Commands that read an artifact's bytes: cat, get."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError, UnsupportedOperation, shown_path
from .browse import JSON, WIDE
from .completion import complete_ref
from .output import emit_json, emit_table, human_size, out, paged
from .state import State

pass_state = click.make_pass_decorator(State)
CAT_ROWS = 10
CAT_LIMIT = 1 << 20


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@WIDE
@JSON
@pass_state
@paged
def cat(state: State, ref: str, wide: bool, as_json: bool) -> None:
    """Print an artifact: text and JSON as they are, a table's first rows.

    With --json: `{"artifact": RECORD, "content": ...}`, the content being the JSON value, the
    text, or a table preview `{"columns", "rows", "total_rows"}`.
    """
    from ..api import get_artifact

    art = get_artifact(ref, stack=state.existing)
    if art.kind == "dataset" and art.materializer.endswith("parquet"):
        preview = art.metadata.get("preview") or {}
        if preview.get("columns"):
            rows = art.metadata.get("rows")
            data = preview["data"][:CAT_ROWS]
            if as_json:
                table = {"columns": preview["columns"], "rows": data, "total_rows": rows}
                emit_json({"artifact": art.record(), "content": table})
                return
            emit_table(preview["columns"], data, shout=False, wide=wide)
            click.echo(f"({rows} rows)" if rows is not None else "", err=True)
            return
    if art.mime_type == "application/json" or art.mime_type.startswith("text/"):
        if art.size > CAT_LIMIT:
            raise UnsupportedOperation(f"{ref} is {human_size(art.size)}; use `get` for it")
        text = art.open().read().decode("utf-8", errors="replace")
        content: Any = text
        if art.mime_type == "application/json":
            with contextlib.suppress(ValueError):  # an uploaded .json file may not be JSON
                content = json.loads(text)
                text = json.dumps(content, indent=2, ensure_ascii=False)
        if as_json:
            emit_json({"artifact": art.record(), "content": content})
        else:
            out(text)
        return
    raise UnsupportedOperation(
        f"{ref} is {art.mime_type} ({art.materializer}); save it with `flow-artifacts get`"
    )


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=True), help="Where to write it ('-': stdout)."
)
@click.option("--force", is_flag=True, help="Replace a file or folder already at the output path.")
@JSON
@pass_state
def get(state: State, ref: str, output: str | None, force: bool, as_json: bool) -> None:
    """Download an artifact's bytes (verified; progress for large ones); `-o -` to stdout.

    Without -o, or with -o FOLDER, it is saved as NAME-vVERSION plus its extension, named from
    the catalog (as `fa.download` names it); an existing file is replaced only with --force.
    With --json: `{"path": ..., "artifact": RECORD}`.
    """
    from ..api import get_artifact

    art = get_artifact(ref, stack=state.existing)
    if output == "-":
        if art.manifest.directory:
            raise UnsupportedOperation(f"{ref} is a directory; give -o a folder to put it in")
        if as_json:
            raise click.UsageError("--json describes a saved file; it cannot go with -o -")
        stream = sys.stdout.buffer
        for chunk in art.as_stream():  # verified: a damaged artifact still ends in an error
            stream.write(chunk)
        return
    target = Path(output or ".")
    if target.is_dir():
        target = target / art.file_name
    if os.path.lexists(target) and not force:
        raise ConfigError(
            f"{shown_path(target)} already exists; pass --force to replace it, or -o another path"
        )
    path = art.download(target)
    if as_json:
        emit_json({"path": str(path), "artifact": art.record()})
    else:
        click.echo(str(path))


COMMANDS = [cat, get]
