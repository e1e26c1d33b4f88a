"""Printing for the CLI: tables that fit the terminal, colour and a pager on a terminal, JSON for
scripts, one-line errors.

What a terminal gets is decided once per command (`terminal()`), from stdout as the command
starts: colour only on a terminal and never with `NO_COLOR` set (or `TERM=dumb`); tables cut to
its width unless `--wide`; output longer than its height through `$PAGER` (`paged`). Pipes and
files get plain, complete text.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import click

_UNESCAPED_BY_JSON = "\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x1f{_UNESCAPED_BY_JSON}]")
"""C0 and C1 controls (ESC, BEL, CSI...), DEL, and the bidirectional overrides that reorder text."""
_RAW_IN_JSON = re.compile(f"[{_UNESCAPED_BY_JSON}]")
MIN_CELL = 8
"""A cut column keeps at least this many characters."""
GAP = "  "
CUT = "…"
STYLES: dict[str, dict[str, Any]] = {
    "header": {"bold": True},
    "ok": {"fg": "green"},
    "bad": {"fg": "red", "bold": True},
    "busy": {"fg": "yellow"},
    "dim": {"dim": True},
}
STATUS_STYLE = {
    "ok": "ok",
    "completed": "ok",
    "failed": "bad",
    "crashed": "bad",
    "damaged": "bad",
    "running": "busy",
}
_TERMINAL_KEY = "flow_artifacts.terminal"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Terminal:
    """How stdout is shown: `width` None means "do not cut" (a pipe or file)."""

    tty: bool
    colour: bool
    width: int | None
    height: int


def terminal() -> Terminal:
    """stdout as this command found it, decided once (before `paged` buffers it)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return _probe()
    meta = ctx.find_root().meta
    if _TERMINAL_KEY not in meta:
        meta[_TERMINAL_KEY] = _probe()
    found: Terminal = meta[_TERMINAL_KEY]
    return found


def _probe() -> Terminal:
    tty = sys.stdout.isatty()
    size = shutil.get_terminal_size()
    return Terminal(tty, tty and colour_allowed(), size.columns if tty else None, size.lines)


def colour_allowed() -> bool:
    """The user's say, whatever the stream: https://no-color.org and `TERM=dumb` turn it off."""
    return not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def paint(text: str, role: str | None, colour: bool | None = None) -> str:
    """`text` in the colour of `role` (see `STYLES`) when colour is on."""
    on = terminal().colour if colour is None else colour
    return click.style(text, **STYLES[role]) if on and role else text


def out(text: str) -> None:
    """One line (or several) to stdout, keeping colour even while `paged` buffers it."""
    click.echo(text, color=terminal().colour)


def paged(command: F) -> F:
    """Run `command` with its stdout through `$PAGER` when it is longer than the terminal."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        term = terminal()
        if not term.tty:
            return command(*args, **kwargs)
        text, notes = io.StringIO(), io.StringIO()  # notes (counts, cursors) follow the text
        try:
            with contextlib.redirect_stdout(text), contextlib.redirect_stderr(notes):
                return command(*args, **kwargs)
        finally:
            if text.getvalue().count("\n") >= term.height:
                click.echo_via_pager(text.getvalue(), color=term.colour)
            else:
                sys.stdout.write(text.getvalue())
                sys.stdout.flush()
            sys.stderr.write(notes.getvalue())

    return run  # type: ignore[return-value]


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
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    empty: str = "",
    *,
    shout: bool = True,
    wide: bool = False,
    optional: Sequence[int] = (),
    status: int | None = None,
) -> None:
    """Columns padded to their widest cell; nothing but `empty` (on stderr) without rows.

    On a terminal, unless `wide`, the table fits its width: the `optional` columns go first
    (last listed first), then the widest cells are cut with `…`, then the rightmost columns go
    (said on stderr). Column `status` is coloured
    by its value. Headers are upper-cased (`shout`) except where they are data: a table
    artifact's own column names are printed as they are.
    """
    cells = [[_cell(v) for v in row] for row in rows]
    if not cells:
        if empty:
            click.echo(empty, err=True)
        return
    shown = [h.upper() if shout else h for h in headers]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(shown)]
    keep = list(range(len(shown)))
    width = terminal().width
    if width is not None and not wide:
        keep, widths = _fit(widths, optional, width)
        if len(keep) < len(shown):
            click.echo(
                f"({len(shown) - len(keep)} column(s) not shown; --wide shows all)", err=True
            )
    out(
        paint(_line([_cut(shown[i], widths[i]) for i in keep], [widths[i] for i in keep]), "header")
    )
    for row in cells:
        parts = []
        for i in keep:
            text = _cut(row[i], widths[i])
            role = STATUS_STYLE.get(row[i]) if i == status else None
            parts.append(paint(text, role) + " " * (widths[i] - len(text)))
        out(GAP.join(parts).rstrip())


def _fit(natural: list[int], optional: Sequence[int], width: int) -> tuple[list[int], list[int]]:
    """Which columns to show and how wide: optional ones dropped first, then the widest cut
    down to `MIN_CELL`, then (many columns) the rightmost dropped."""
    keep = list(range(len(natural)))
    widths = list(natural)

    def total() -> int:
        return sum(widths[i] for i in keep) + len(GAP) * (len(keep) - 1)

    for column in reversed(optional):
        if total() <= width:
            break
        keep.remove(column)
    while total() > width:
        widest = max(keep, key=lambda i: widths[i])
        if widths[widest] <= MIN_CELL:
            break
        widths[widest] = max(MIN_CELL, widths[widest] - (total() - width))
    while total() > width and len(keep) > 1:
        keep.pop()
    return keep, widths


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + CUT


def _line(texts: Sequence[str], widths: Sequence[int]) -> str:
    return GAP.join(t.ljust(w) for t, w in zip(texts, widths, strict=True)).rstrip()


def emit_fields(fields: Mapping[str, Any], *, wide: bool = False) -> None:
    """`key  value` lines; on a terminal, unless `wide`, each value is cut to one line."""
    width = max(len(k) for k in fields)
    room = terminal().width
    for key, value in fields.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value, default=_json_default, ensure_ascii=False)
        text = _cell(value)
        if room is not None and not wide:
            text = _cut(text, max(room - width - len(GAP), MIN_CELL))
        out(f"{paint(key.ljust(width), 'header')}{GAP}{text}".rstrip())


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def when(value: datetime | str | None) -> str:
    """A time in the reader's zone, with the zone: `2026-05-01 14:03:07 CEST`. The zone is the
    system's (`TZ`), as the web page shows times in the browser's; JSON keeps ISO 8601 with
    its offset."""
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # recorded times are UTC
    local = moment.astimezone()
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or f'{local:%z}'}"


def error(message: str, hint: str | None = None) -> None:
    colour = sys.stderr.isatty() and colour_allowed()
    shown = "\n".join(safe(line) for line in message.split("\n"))
    click.echo(f"{paint('error:', 'bad', colour)} {shown}", err=True, color=colour)
    if hint:
        click.echo(f"{paint('hint:', 'dim', colour)} {safe(hint)}", err=True, color=colour)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return when(value)
    return safe(str(value).replace("\n", " "))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)
