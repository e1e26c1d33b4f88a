"""Which files a folder upload takes: regular files inside the folder, and nothing else.

A symbolic link could carry a file from anywhere (a private key) into a shared store, and a FIFO
blocks whoever opens it, so both are decided on before any file is opened. Symbolic links to
files inside the folder are copied as files; links that lead outside it, links to folders,
broken links, FIFOs, sockets and devices are refused together, in one error naming each by its
path inside the folder. `follow_symlinks=True` copies what links point to, on purpose.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import UnsupportedOperation
from .ignore import IgnorePatterns

MAX_LISTED = 20
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO that slipped in never waits
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


@dataclass(frozen=True)
class Member:
    rel: str
    """Posix path inside the folder: where the file goes in the artifact."""
    path: Path
    link: bool
    """Reached through a symbolic link (so it is opened following links)."""


@dataclass(frozen=True)
class Scan:
    members: list[Member]
    ignored: int


def scan_folder(source: Path, patterns: IgnorePatterns, *, follow_symlinks: bool) -> Scan:
    """The files of folder `source` to upload; `UnsupportedOperation` listing what is refused."""
    root = Path(os.path.realpath(source))
    members: list[Member] = []
    refused: list[tuple[str, str]] = []
    ignored = 0
    for rel, path, st, link in _walk(source, frozenset({root}), follow_symlinks, refused):
        if patterns.ignores(rel):
            ignored += 1
        elif st is None:
            refused.append((rel, "a broken symbolic link"))
        elif not stat.S_ISREG(st.st_mode):
            refused.append((rel, "a symbolic link to a folder" if link else _kind(st.st_mode)))
        elif link and not follow_symlinks and not _inside(path, root):
            refused.append((rel, "a symbolic link leading outside the folder"))
        else:
            members.append(Member(rel, path, link))
    if refused:
        listed = ", ".join(f"{rel!r} ({why})" for rel, why in sorted(refused)[:MAX_LISTED])
        more = f" and {len(refused) - MAX_LISTED} more" if len(refused) > MAX_LISTED else ""
        raise UnsupportedOperation(
            f"folder {source.name!r} holds entries an upload does not take: {listed}{more}. "
            "Nothing was uploaded. Remove them, leave them out in .artifactignore, or pass "
            "follow_symlinks=True to copy what the links point to."
        )
    return Scan(members, ignored)


def open_member(member: Member) -> io.BufferedReader:
    """The file for reading; refused (never waited on) if it stopped being a regular file."""
    flags = os.O_RDONLY | _NONBLOCK | _BINARY | (0 if member.link else _NOFOLLOW)
    try:
        fd = os.open(member.path, flags)
    except OSError as exc:
        raise UnsupportedOperation(
            f"{member.rel!r} changed while it was uploaded ({exc.strerror}); upload it again"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsupportedOperation(
            f"{member.rel!r} stopped being a regular file while it was uploaded; upload it again"
        )
    return os.fdopen(fd, "rb")


def _walk(
    folder: Path,
    ancestors: frozenset[Path],
    follow: bool,
    refused: list[tuple[str, str]],
    prefix: str = "",
) -> Iterator[tuple[str, Path, os.stat_result | None, bool]]:
    """(relative path, path, stat following links or None if broken, is a link) of every entry
    that is not a folder, descending into real folders and, when following, linked ones
    (`ancestors`: the resolved folders above, so a link back to one is not followed forever)."""
    with os.scandir(folder) as scanned:
        entries = sorted(scanned, key=lambda e: e.name)
    for entry in entries:
        rel, path = prefix + entry.name, Path(entry.path)
        link = entry.is_symlink()
        try:
            st = os.stat(path) if link else entry.stat(follow_symlinks=False)
        except OSError:
            yield rel, path, None, link
            continue
        if stat.S_ISDIR(st.st_mode) and (not link or follow):
            real = Path(os.path.realpath(path))
            if real in ancestors:
                refused.append((rel, "a symbolic link looping back to a folder above it"))
                continue
            yield from _walk(path, ancestors | {real}, follow, refused, rel + "/")
        else:
            yield rel, path, st, link


def _inside(path: Path, root: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(root)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"
