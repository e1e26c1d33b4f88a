"""`.dockerignore`-style patterns for directory artifacts (an `.artifactignore` file inside).

Patterns are relative to the directory; `*` and `?` stay within a path segment, `**` spans segments,
a leading `!` re-includes, later patterns win, and a pattern that matches a directory covers
everything below it. Lines starting with `#` are comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IGNORE_FILE = ".artifactignore"
IGNORE_FILES = (IGNORE_FILE, ".dockerignore")
"""Read by a folder upload when no `ignore_files=` is given: the first one present (Peak's
default is `.dockerignore`)."""


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    include: bool


class IgnorePatterns:
    def __init__(self, lines: list[str]) -> None:
        self._rules = []
        for line in lines:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            include = text.startswith("!")
            pattern = text[1:].strip() if include else text
            pattern = pattern.strip("/")
            if pattern:
                self._rules.append(_Rule(re.compile(_translate(pattern)), include))

    @classmethod
    def parse(cls, text: str) -> IgnorePatterns:
        return cls(text.splitlines())

    def ignores(self, rel_path: str) -> bool:
        """Whether a file at `rel_path` (posix, relative) is left out."""
        parts = rel_path.split("/")
        ignored = False
        for rule in self._rules:
            for end in range(1, len(parts) + 1):
                if rule.regex.fullmatch("/".join(parts[:end])):
                    ignored = not rule.include
                    break
        return ignored


def _translate(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)
