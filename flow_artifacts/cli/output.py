"""Printing for the CLI: plain aligned tables for people, JSON for scripts, one-line errors."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import click

_UNESCAPED_BY_JSON = "\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x1f{_UNESCAPED_BY_JSON}]")
"""C0 and C1 controls (ESC, BEL, CSI...), DEL, and the bidirectional overrides that reorder text."""
_RAW_IN_JSON = re.compile(f"[{_UNESCAPED_BY_JSON}]")


def safe(text: str) -> str:
    """`text` with control characters shown escaped (`\\x1b`), so a name, label or description
    cannot move the cursor, recolour, retitle or reorder the terminal."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def emit_json(value: Any) -> None:
    """JSON as scripts read it; controls JSON would leave raw (C1, bidi) become `\\u` escapes."""
    text = json.dumps(value, indent=2, default=_json_default, ensure_ascii=False)
    click.echo(_RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


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
    click.echo("  ".join(h.ljust(w) for h, w in zip(shown, widths, strict=False)).rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())


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
    shown = "\n".join(safe(line) for line in message.split("\n"))
    click.echo(f"error: {shown}", err=True)
    if hint:
        click.echo(f"hint: {safe(hint)}", err=True)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return safe(str(value).replace("\n", " "))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
