"""`${VAR}` and `${VAR:-default}` in configuration values, expanded from the environment.

`$$` stands for a literal `$`, so `$${VAR}` stays `${VAR}`. A variable that is unset (or empty, for
the `:-` form) takes its default; one that is unset with no default is an error, never an empty
string, so a missing credential fails at configuration time instead of as an anonymous request.
A value put into a URL's user-info (`postgresql://flow:${DB_PASSWORD}@host/db`) is percent-encoded,
so a password holding `:`, `@`, `/` or `%` stays one password instead of breaking the URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_BODY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.S)
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://")
SYNTAX = "${NAME} or ${NAME:-default} ($$ for a literal $)"


class ExpansionError(ValueError):
    """A reference is malformed or names an unset variable; the message names the variable."""


def expand(text: str, environ: Mapping[str, str]) -> tuple[str, list[tuple[str, str]]]:
    """`text` with its variables replaced, and (name, value put in) for each variable used."""
    used: list[tuple[str, str]] = []
    userinfo_end = _userinfo_end(text)

    def replace(match: re.Match[str]) -> str:
        token, body = match.group(0), match.group(1)
        if token == "$$":
            return "$"
        if body is None:
            raise ExpansionError(f"'${{' is not closed; write {SYNTAX}")
        parsed = _BODY.fullmatch(body)
        if parsed is None:
            raise ExpansionError(f"'${{{body}}}' is not a variable reference; write {SYNTAX}")
        name, default = parsed.group(1), parsed.group(2)
        value = environ.get(name)
        if default is not None and not value:
            value = default
        if value is None:
            raise ExpansionError(
                f"environment variable {name} is not set and has no default; set it, or write "
                f"${{{name}:-default}}"
            )
        used.append((name, value))
        return quote(value, safe="") if match.end() <= userinfo_end else value

    return _TOKEN.sub(replace, text), used


def _userinfo_end(text: str) -> int:
    """Where the user-info of a URL `text` ends (its last `@` before the host), else -1.

    Found in the text as written, variables unexpanded, so what a value holds cannot move it."""
    scheme = _SCHEME.match(text)
    if scheme is None:
        return -1
    plain = _TOKEN.sub(lambda m: "x" * len(m.group(0)), text)  # ${A:-a/b} must not end the host
    ends = [i for i in (plain.find(c, scheme.end()) for c in "/?#") if i >= 0]
    authority_end = min(ends, default=len(plain))
    return plain.rfind("@", scheme.end(), authority_end)
