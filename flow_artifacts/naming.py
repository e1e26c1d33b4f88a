"""Validation of the user-given names that become path segments and reference parts.

Names end up in object-store keys, local paths and `store://` references, so anything that could
escape the store root or make a reference ambiguous is refused up front, before any byte is written.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import InvalidName
from .redact import scrub

MAX_NAME_BYTES = 200
LATEST = "latest"
"""The reserved tag: `project/name:latest` always means the newest version, so nobody can set it."""
GLOB_CHARS = "[]*?"
"""Refused in new names (`validate_new_name`): fsspec reads them as glob patterns."""
_GLOB = re.compile(f"[{re.escape(GLOB_CHARS)}]")
_FORBIDDEN_CHARS = {
    "/": "a slash",
    "\\": "a backslash",
    "@": "an '@'",
    ":": "a colon",
    "#": "a '#'",
}


def validate_name(value: object, field: str = "name") -> str:
    """Return `value` if it is usable as one path segment, else raise `InvalidName` saying why."""
    if not isinstance(value, str):
        raise InvalidName(f"{field} must be a string, got {type(value).__name__}: {value!r:.80}")
    problem = _problem(value)
    if problem:
        raise InvalidName(
            f"invalid {field} {value!r:.80}: {problem}. Use letters, digits, '-', '_' and '.' "
            "(not at the start)."
        )
    return value


SCHEMA_ID = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[!-~]+")
"""A schema identifier (a URI such as IVCAP's `urn:ivcap:schema:metrics.1`): printable, no
spaces, at most 200 characters (the catalog's aspect column), never a path segment."""


def validate_aspect_name(value: object) -> str:
    """An aspect is named like an artifact, or by its schema identifier (IVCAP names aspects by
    their schema). Aspect names live in catalog rows and journal records, never in store paths,
    and an identifier carrying credentials (`https://user:pw@host/...`) is refused: a name is
    shown everywhere and masked nowhere."""
    if isinstance(value, str) and len(value) <= MAX_NAME_BYTES and SCHEMA_ID.fullmatch(value):
        if scrub(value) != value:
            raise InvalidName(
                "a schema identifier naming an aspect must not carry credentials; name the "
                "schema without them (e.g. 'https://host/schema.json')"
            )
        return value
    if isinstance(value, str) and ":" in value and len(value) > MAX_NAME_BYTES:
        raise InvalidName(
            f"a schema identifier naming an aspect is at most {MAX_NAME_BYTES} characters; "
            "name the aspect instead: add_metadata('quality', record, schema=...)"
        )
    return validate_name(value, "aspect")


def validate_new_name(value: object, field: str = "name") -> str:
    """`validate_name`, also refusing glob metacharacters: for names a write is about to use.

    fsspec expands `[`, `]`, `*` and `?` in many calls, so a name holding them could make a listing
    or delete reach other artifacts. Names written before this rule stay readable and deletable:
    the store never passes them to a globbing call.
    """
    name = validate_name(value, field)
    if _GLOB.search(name):
        found = sorted(set(GLOB_CHARS) & set(name))
        raise InvalidName(
            f"invalid {field} {value!r:.80}: it contains {' '.join(repr(c) for c in found)}, "
            "which file systems read as patterns. Use letters, digits, '-', '_' and '.'."
        )
    return value  # type: ignore[return-value]


_PLAIN = re.compile(
    r"(?!(?:CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|COM[0-9]|LPT[0-9])(?:\.|$))"
    rf"[A-Za-z0-9_-][A-Za-z0-9_.-]{{0,{MAX_NAME_BYTES - 1}}}",
    re.IGNORECASE | re.ASCII,
)
"""Names of ASCII letters, digits, '_', '-' and '.' (not first), at most `MAX_NAME_BYTES`, whose
part before the first '.' is no Windows device name (`_windows_device` of such a name): the
usual kind, which pass every check of `_problem` but the one for '..'."""


def _problem(value: str) -> str | None:
    if _PLAIN.fullmatch(value) and ".." not in value:
        return None
    if not value:
        return "it is empty"
    if len(value.encode("utf-8")) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_BYTES} bytes"
    if value.strip() != value:
        return "it starts or ends with white space"
    for char, what in _FORBIDDEN_CHARS.items():
        if char in value:
            return f"it contains {what}"
    if ".." in value:
        return "it contains '..'"
    if value.startswith("."):
        return "it starts with '.'"
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return f"it contains the control or invisible character U+{ord(char):04X}"
    if problem := _device_problem(value):
        return problem
    if unicodedata.normalize("NFKC", value) != value:
        return (
            "it has characters that look like others (compatibility forms such as full-width "
            "letters or ligatures); use their plain form"
        )
    return None


_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{port}{n}" for port in ("COM", "LPT") for n in "0123456789\u00b9\u00b2\u00b3"]
)


def _device_problem(value: str) -> str | None:
    device = _windows_device(value)
    return (
        f"{device} is a device name on Windows, where no file can have this name"
        if device
        else None
    )


def _windows_device(value: str) -> str | None:
    """The device a name would open on Windows: `CON`, `nul.json`, `Com1.tar.gz` (any case, any
    extension; Windows ignores spaces before the dot), else None."""
    stem = value.split(".", 1)[0].rstrip(" ").upper()
    return stem if stem in _WINDOWS_DEVICES else None
