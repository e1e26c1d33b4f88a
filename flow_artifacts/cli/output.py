"""Printing for the CLI: plain aligned tables for people, JSON for scripts, one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import click


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=_json_default, ensure_ascii=False))


def emit_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str = "", *, shout: bool = True
) -> None:
    """Columns padded to their widest cell; nothing but `empty` when there are no rows.

    Headers are upper-cased like other CLIs' (`shout`), except where they are data: a table
    artifact's own column names are printed as they are.
    """
    cells = [[_cell(v) for v in row] for row in rows]
    if not cells:
        if empty:
            click.echo(empty, err=True)
        return
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    shown = [h.upper() if shout else h for h in headers]
    click.echo("  ".join(h.ljust(w) for h, w in zip(shown, widths)).rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def emit_fields(fields: Mapping[str, Any]) -> None:
    width = max(len(k) for k in fields)
    for key, value in fields.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value, default=_json_default, ensure_ascii=False)
        click.echo(f"{key.ljust(width)}  {_cell(value)}")


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def error(message: str, hint: str | None = None) -> None:
    click.echo(f"error: {message}", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    return text.replace("\n", " ")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
