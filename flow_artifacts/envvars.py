"""`${VAR}` and `${VAR:-default}` in configuration values, expanded from the environment.

`$$` stands for a literal `$`, so `$${VAR}` stays `${VAR}`. A variable that is unset (or empty, for
the `:-` form) takes its default; one that is unset with no default is an error, never an empty
string, so a missing credential fails at configuration time instead of as an anonymous request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_BODY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.S)
SYNTAX = "${NAME} or ${NAME:-default} ($$ for a literal $)"


class ExpansionError(ValueError):
    """A reference is malformed or names an unset variable; the message names the variable."""


def expand(text: str, environ: Mapping[str, str]) -> tuple[str, list[tuple[str, str]]]:
    """`text` with its variables replaced, and (name, value put in) for each variable used."""
    used: list[tuple[str, str]] = []

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
        return value

    return _TOKEN.sub(replace, text), used
