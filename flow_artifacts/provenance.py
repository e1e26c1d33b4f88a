"""Who wrote an artifact: the user, the host and, inside a git work tree, the commit.

Recorded in every manifest as `owner`, so `show` and listings can answer "who made this, from
which code". The commit is read from `.git` files (no `git` process per write); what cannot be
found is left out rather than guessed.
"""

from __future__ import annotations

import functools
import getpass
import os
import re
import socket
from pathlib import Path

_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
MAX_OWNER_CHARS = 200


def owner(cwd: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """`{"user", "host"[, "commit"]}` for a write made now from `cwd` (default: the current
    folder)."""
    found = dict(_user_and_host())
    commit = git_commit(Path(cwd) if cwd is not None else Path.cwd())
    if commit:
        found["commit"] = commit
    return found


@functools.cache
def _user_and_host() -> tuple[tuple[str, str], ...]:
    found = []
    try:
        found.append(("user", getpass.getuser()[:MAX_OWNER_CHARS]))
    except Exception:  # no login name (some containers): leave it out
        pass
    host = socket.gethostname()[:MAX_OWNER_CHARS]
    if host:
        found.append(("host", host))
    return tuple(found)


def git_commit(start: Path) -> str | None:
    """The commit HEAD names in the git work tree holding `start`, or None."""
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        try:
            if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
                text = dot_git.read_text(encoding="utf-8").strip()
                if not text.startswith("gitdir:"):
                    return None
                git_dir = (folder / text[len("gitdir:") :].strip()).resolve()
            elif dot_git.is_dir():
                git_dir = dot_git
            else:
                continue
            return _head(git_dir)
        except (OSError, UnicodeDecodeError):
            return None
    return None


def _head(git_dir: Path) -> str | None:
    head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    if _SHA.fullmatch(head):
        return head
    if not head.startswith("ref: "):
        return None
    ref = head[len("ref: ") :]
    common = git_dir
    if (git_dir / "commondir").is_file():
        common = (git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    for base in (git_dir, common):
        path = base / ref
        if path.is_file():
            sha = path.read_text(encoding="utf-8").strip()
            return sha if _SHA.fullmatch(sha) else None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            sha, _, name = line.partition(" ")
            if name == ref and _SHA.fullmatch(sha):
                return sha
    return None  # a branch without commits yet
