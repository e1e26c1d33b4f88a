"""Paths inside a store: references to candidate keys, listings to files, no-replace publishing,
the reserved namespace of the store's own records, and exact deletes."""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..manifest import MANIFEST_SUFFIX
from ..moments import aware, parse_moment

RESERVED = ".flow-artifacts"
"""Top-level folder of the store's own records: its identity, pending writes, temporaries.

No artifact path can reach it: names and path segments may not start with '.', nor may a path
template's first segment."""
IDENTITY = f"{RESERVED}/store.json"
WRITES = f"{RESERVED}/writes"
TEMPS = f"{RESERVED}/tmp"
JOURNAL_DIR = f"{RESERVED}/journal"
"""The store's journal (see `journal.py`): write-once records of every change after writing."""


def rel_to(path: str, root: str) -> str:
    return path[len(root) :].lstrip("/") if path.startswith(root) else path


def reserved(rel: str) -> bool:
    """Whether a store-relative path is one of the store's own records, not artifact space."""
    return rel == RESERVED or rel.startswith(RESERVED + "/")


def is_local(fs: Any) -> bool:
    """Whether `fs` is fsspec's local filesystem. fsspec is imported on the first call, not with
    the package (importing it costs more than the rest of the public API), and its class kept:
    an import statement on every call cost more than the check, several times per load."""
    global _local_filesystem
    if _local_filesystem is None:
        from fsspec.implementations.local import LocalFileSystem

        _local_filesystem = LocalFileSystem
    return isinstance(fs, _local_filesystem)


_local_filesystem: type | None = None


def remove_exactly(fs: Any, path: str) -> None:
    """Delete the file at `path`, or every file under it, each by its literal name.

    fsspec's `rm` expands `[`, `*` and `?` as patterns on most filesystems, so that deleting
    `report[1]` could delete `report1`. Here nothing is ever globbed; missing is fine.
    """
    if is_local(fs):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)
        return
    try:
        found = fs.find(path, detail=True)
    except FileNotFoundError:
        return
    # adlfs answers a single file's `find(detail=True)` with a list of names
    files = list(files_only(found) if isinstance(found, Mapping) else found)
    literal = [p for p in files if not _pattern(p)]
    if literal:
        fs.rm(literal)  # a list of names without pattern characters is taken literally, batched
    for file in files:
        if _pattern(file):
            fs.rm_file(file)


def _pattern(path: str) -> bool:
    """Whether fsspec would expand `path` as a glob (its rule: any of `*`, `?`, `[`)."""
    return any(char in path for char in "*?[")


def candidate_keys(rel: str) -> list[str]:
    """Keys a store-relative reference may name: itself, or itself minus each extension.

    `a/b.tar.gz` may be the data of key `a/b.tar`, `a/b`, or the key `a/b.tar.gz` itself.
    """
    rel = rel.strip("/")
    if not rel or ".." in rel.split("/"):
        return []
    if rel.endswith(MANIFEST_SUFFIX):
        return [rel[: -len(MANIFEST_SUFFIX)]]
    head, base = posixpath.split(rel)
    candidates = [rel]
    while "." in base:
        base = base.rpartition(".")[0]
        candidates.append(posixpath.join(head, base))
    return candidates


def files_only(found: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """A detailed `find()` without directory entries: object stores may list placeholder
    objects (keys ending in "/") or "directory" prefixes among the files."""
    return {
        path: info
        for path, info in found.items()
        if info.get("type") != "directory" and not path.endswith("/")
    }


def modified(info: Mapping[str, Any]) -> datetime | None:
    """Modification time from an fsspec info dict; each backend spells it differently."""
    for field_name in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(field_name)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, timezone.utc)
        if isinstance(value, str):
            return parse_moment(value)
        if isinstance(value, datetime):
            return aware(value)
    return None


def link_into_place(temp: str, final: str) -> None:
    """Move local `temp` to `final` atomically, never replacing an existing `final`.

    Raises FileExistsError when `final` is taken.
    """
    try:
        try:
            os.link(temp, final)  # atomic, and refuses to replace
        except PermissionError:  # what link says of a folder (asked first: most moves are files)
            if not os.path.isdir(temp):
                raise
            if os.path.lexists(final):
                raise FileExistsError(errno.EEXIST, "exists", final) from None
            os.rename(temp, final)  # fails on a non-empty directory in the way
        else:
            os.unlink(temp)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise FileExistsError(errno.EEXIST, "already exists", final) from exc
        raise
