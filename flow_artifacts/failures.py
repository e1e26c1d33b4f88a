"""How a failure is recorded: the error's type and message, and for a step its traceback.

The record is what the run page and `flow-artifacts run show` print, so it is bounded and masked
like every error (redact.scrub_cut): the message first, then a blank line and the traceback
(most recent call last) without the frames of flow_artifacts' own machinery that called the step,
and without the exception line the message already gave. A long traceback keeps its end, where
the failing call is: each of its parts is masked and cut on its own, and the earliest parts go
first. Frames name their files as messages name paths (errors.shown_path): relative to the current
folder, under `~`, or by their last parts, never by where the machine keeps them.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable

from .errors import shown_path
from .redact import scrub_cut

MAX_ERROR_CHARS = 4000
"""The message: type and text."""
MAX_TRACEBACK_CHARS = 12000
MAX_PART_CHARS = 2000
"""One frame (file, line, code) or one line of a chained exception."""
TRACEBACK_HEADER = "Traceback (most recent call last):"
_SEPARATOR = "\n\n" + TRACEBACK_HEADER
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def error_text(exc: BaseException, secrets: Iterable[str], *, with_traceback: bool) -> str:
    """The recorded failure: `Type: message`, then (`with_traceback`) the traceback."""
    secrets = tuple(secrets)
    message = scrub_cut(f"{type(exc).__qualname__}: {exc}", MAX_ERROR_CHARS, secrets)
    if not with_traceback:
        return message
    trace = _traceback(exc, secrets)
    return f"{message}\n\n{trace}" if trace else message


def split_error(text: str) -> tuple[str, str | None]:
    """A recorded failure as (message, traceback or None), for showing them apart."""
    message, sep, rest = text.partition(_SEPARATOR)
    return (message, TRACEBACK_HEADER + rest) if sep else (text, None)


def _traceback(exc: BaseException, secrets: tuple[str, ...]) -> str:
    found = traceback.TracebackException.from_exception(exc)
    while found.stack and found.stack[0].filename.startswith(_PACKAGE):
        del found.stack[0]  # the executor's call of the step: not the user's code
    _shorten_file_names(found)
    parts = list(found.format())
    last = list(found.format_exception_only())
    if parts[-len(last) :] == last:
        del parts[-len(last) :]
    if not found.stack and not found.__cause__ and not found.__context__:
        return ""  # raised by flow_artifacts itself: its message says what to do
    if parts and parts[0].startswith(TRACEBACK_HEADER):
        parts.pop(0)
    kept: list[str] = []
    total = 0
    for part in reversed(parts):
        part = scrub_cut(part, MAX_PART_CHARS, secrets)
        if total + len(part) > MAX_TRACEBACK_CHARS:
            kept.append(f"  ... {len(parts) - len(kept)} earlier parts cut\n")
            break
        kept.append(part)
        total += len(part)
    return (TRACEBACK_HEADER + "\n" + "".join(reversed(kept))).rstrip("\n")


def _shorten_file_names(found: traceback.TracebackException) -> None:
    """Each frame of `found` and of the exceptions chained to it names its file by shown_path."""
    seen: set[int] = set()
    pending = [found]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for frame in current.stack:
            _ = frame.line  # its source line is looked up by the real name: read it first
            frame.filename = shown_path(frame.filename)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        pending.extend(getattr(current, "exceptions", None) or ())
