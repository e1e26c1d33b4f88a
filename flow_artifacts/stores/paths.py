"""Paths inside a store: references to candidate keys, listings to files, no-replace publishing."""

from __future__ import annotations

import errno
import os
import posixpath
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..manifest import MANIFEST_SUFFIX
from ..moments import aware, parse_moment

TEMP_PREFIX = ".tmp-"
JOURNAL_DIR = ".fa-journal"
"""The store's journal (see `journal.py`): one top-level folder that no artifact key can name,
since names never start with '.' and templates may not begin with it."""


def rel_to(path: str, root: str) -> str:
    return path[len(root) :].lstrip("/") if path.startswith(root) else path


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
        if os.path.isdir(temp):
            if os.path.lexists(final):
                raise FileExistsError(errno.EEXIST, "exists", final)
            os.rename(temp, final)  # fails on a non-empty directory in the way
        else:
            os.link(temp, final)  # atomic, and refuses to replace
            os.unlink(temp)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise FileExistsError(errno.EEXIST, "already exists", final) from exc
        raise
