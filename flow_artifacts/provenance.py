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
from collections.abc import Callable
from pathlib import Path

_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
MAX_OWNER_CHARS = 200
_PER_WORKTREE = ("refs/worktree/", "refs/bisect/", "refs/rewritten/")
"""The refs git keeps per work tree (`git help worktree`); all others are shared."""


def owner(cwd: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """`{"user", "host"[, "commit"]}` for a write made now from `cwd` (default: the current
    folder)."""
    found = dict(_user_and_host())
    try:
        start = os.fspath(cwd) if cwd is not None else os.getcwd()
    except OSError:  # the current folder was deleted: no work tree to name a commit of
        return found
    commit = git_commit(start)
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


Signature = tuple[int, int, int, int] | None
"""What `stat` says of a file (inode, size, mtime, ctime), None when it is absent."""

_commits: dict[str, tuple[tuple[tuple[str, Signature], ...], str | None]] = {}
"""Folder -> (every path consulted with its signature, the commit found) in this process."""


def git_commit(start: str | os.PathLike[str]) -> str | None:
    """The commit HEAD names in the git work tree holding `start`, or None.

    Remembered per folder with the signature of every path consulted: while none of them
    changed (git replaces HEAD and refs by renaming a new file into place), the answer costs a
    few `stat` calls and no open.
    """
    key = os.fspath(start)
    cached = _commits.get(key)
    if cached is not None and all(_signature(path) == sig for path, sig in cached[0]):
        return cached[1]
    consulted: dict[str, Signature] = {}  # each path once: a check is one stat per path
    commit = _find_commit(Path(start), consulted)  # a Path only now: it costs more than a stat
    if len(_commits) > 64:  # a long-lived process wandering through many folders
        _commits.clear()
    _commits[key] = (tuple(consulted.items()), commit)
    return commit


def _find_commit(start: Path, consulted: dict[str, Signature]) -> str | None:
    def read(path: Path) -> str | None:
        """The text of a regular file, None if there is none."""
        sig = consulted.setdefault(os.fspath(path), _signature(os.fspath(path)))
        if sig is None or not os.path.isfile(path):
            return None
        return path.read_text(encoding="utf-8")

    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        try:
            consulted[os.fspath(dot_git)] = _signature(os.fspath(dot_git))
            if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
                text = (read(dot_git) or "").strip()
                if not text.startswith("gitdir:"):
                    return None
                git_dir = (folder / text[len("gitdir:") :].strip()).resolve()
            elif dot_git.is_dir():
                git_dir = dot_git
            else:
                continue
            return _head(git_dir, read)
        except (OSError, UnicodeDecodeError):
            return None
    return None


def _head(git_dir: Path, read: Callable[[Path], str | None]) -> str | None:
    head = (read(git_dir / "HEAD") or "").strip()
    if _SHA.fullmatch(head):
        return head
    if not head.startswith("ref: "):
        return None
    ref = head[len("ref: ") :]
    common = git_dir
    commondir = (read(git_dir / "commondir") or "").strip()
    if commondir:
        common = (git_dir / commondir).resolve()
    if ref.startswith(_PER_WORKTREE):  # kept in the work tree's own git folder, never packed
        own = (read(git_dir / ref) or "").strip()
        return own if _SHA.fullmatch(own) else None
    loose = read(common / ref)  # a branch: shared by all work trees, as git reads it
    if loose is not None:
        return loose.strip() if _SHA.fullmatch(loose.strip()) else None
    for line in (read(common / "packed-refs") or "").splitlines():
        sha, _, name = line.partition(" ")
        if name == ref and _SHA.fullmatch(sha):
            return sha
    return None  # a branch without commits yet


def _signature(path: str) -> Signature:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)
