"""Checks on manifests read from a store, which anyone with write access to it may have edited.

A cataloged artifact is read with what its catalog row records, so a manifest is read only by
`reindex` and for artifacts no catalog holds. Whatever is taken from it then passes
`check_manifest` first: every field has its type, the checksum its format, the materializer is
known, and every path it names (data path, folder members) stays inside the artifact's own key
prefix of this store. `check_agrees` compares a manifest with the row that records the same
artifact; any difference is an integrity error, never followed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Container
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import IntegrityError, InvalidName, NoMaterializerFound
from .hashing import ALGORITHMS, CHECKSUM
from .limits import MAX_VERSION
from .manifest import Manifest
from .materializers.base import ArtifactKind
from .naming import validate_name
from .provenance import MAX_OWNER_CHARS

_HEX = re.compile(r"[0-9a-f]{64}")
_DRIVE = re.compile(r"[A-Za-z]:")
_NOT_IN_SUFFIX = re.compile(r"[/\\:\0]")
MAX_INT = 2**63
_KINDS = frozenset(k.value for k in ArtifactKind)
_STRINGS = ("id", "materializer_version", "mime_type", "created", "description")
_OPTIONAL_NAMES = ("project", "run_id", "step", "pipeline")
AGREEING = ("id", "key", "data_path", "checksum", "materializer", "kind", "size", "directory")
"""Fields a manifest must share with the catalog row of the same artifact."""


def check_manifest(
    manifest: Manifest, *, key: str, materializers: Container[str], where: str
) -> Manifest:
    """Return `manifest`, found at `key` of a store, if it may be used; else `IntegrityError`.

    `materializers` are the ids this process can load; `where` names the manifest in messages.
    """
    problem = _problem(manifest, key)
    if problem:
        raise IntegrityError(
            f"manifest {where} is not usable: {problem}. It may have been edited; restore it "
            "from the catalog (the catalog row is authoritative) or delete the artifact."
        )
    if manifest.materializer not in materializers:  # well formed: a plugin is missing
        raise NoMaterializerFound(
            f"artifact {manifest.key!r} was written by materializer {manifest.materializer!r}, "
            "which no installed plugin provides. Install the plugin that provides it, or check "
            "FLOW_ARTIFACTS_DISABLE_PLUGINS."
        )
    return manifest


def check_agrees(manifest: Manifest, recorded: Manifest, where: str) -> None:
    """`IntegrityError` unless `manifest` (from the store) matches its catalog row `recorded`."""
    differing = [f for f in AGREEING if getattr(manifest, f) != getattr(recorded, f)]
    if differing:
        raise IntegrityError(
            f"manifest {where} disagrees with its catalog row on {', '.join(differing)}; the "
            "store was edited. The catalog row is authoritative: the manifest is not followed."
        )


def member_problem(rel: object) -> str | None:
    """Why `rel` cannot be a path relative to a store or folder (an artifact key, a member of
    a folder artifact), or None when it can."""
    if not isinstance(rel, str) or not rel:
        return "it is not a non-empty string"
    if "\\" in rel or "\0" in rel:
        return "it contains a backslash or NUL"
    if rel.startswith("/"):
        return "it is absolute"
    segments = rel.split("/")
    if "" in segments or "." in segments or ".." in segments:
        return "it has an empty, '.' or '..' segment"
    if _DRIVE.match(segments[0]):
        return "it starts with a drive letter"
    return None


def member_destination(target: str | os.PathLike[str], rel: str, what: str) -> Path:
    """Where folder member `rel` goes under local `target`; `IntegrityError` if that is outside.

    Checked before anything is written: the name itself (no `..`, absolute path, drive...) and,
    since `target` may already hold symbolic links, the resolved path.
    """
    problem = member_problem(rel)
    root = Path(os.path.realpath(target))
    destination = root / rel
    if problem is None and not Path(os.path.realpath(destination)).is_relative_to(root):
        problem = "it leads outside the target folder through a symbolic link"
    if problem:
        raise IntegrityError(
            f"{what} holds a file {rel!r:.120} that cannot be copied: {problem}. Nothing was "
            "written for it; the store was edited, restore or delete the artifact."
        )
    return destination


def path_problem(manifest: Manifest) -> str | None:
    """Why the key or data path of `manifest` may not be used in a store, or None.

    The data path must be the key plus an extension ("" for most folders): so it stays inside
    the artifact's own key prefix, whatever the store.
    """
    if problem := member_problem(manifest.key):
        return f"its key {problem}"
    if not isinstance(manifest.data_path, str) or not manifest.data_path.startswith(manifest.key):
        return "its data path is not its key plus an extension"
    suffix = manifest.data_path[len(manifest.key) :]
    if suffix and (not suffix.startswith(".") or _NOT_IN_SUFFIX.search(suffix)):
        return "its data path is not its key plus an extension"
    return None


def data_suffix(manifest: Manifest) -> str:
    """The extension the data path adds to the key ("" for most folders), once checked."""
    if problem := path_problem(manifest):
        raise IntegrityError(f"artifact {manifest.key!r:.120} has an unusable record: {problem}")
    return manifest.data_path[len(manifest.key) :]


def _problem(m: Manifest, key: str) -> str | None:
    for name in _STRINGS:
        if not isinstance(getattr(m, name), str):
            return f"{name} is not a string"
    if not isinstance(m.key, str) or m.key != key:
        return "its key is not where it is stored"
    if problem := path_problem(m):
        return problem
    if problem := _name_problem(m.name, "name"):
        return problem
    for name in _OPTIONAL_NAMES:
        if getattr(m, name) != "" and (problem := _name_problem(getattr(m, name), name)):
            return problem
    if not isinstance(m.materializer, str) or (problem := _name_problem(m.materializer, "x")):
        return "its materializer is not a materializer id"
    if not isinstance(m.kind, str) or m.kind not in _KINDS:
        return "kind is not one of " + ", ".join(sorted(_KINDS))
    if not _is_int(m.size) or not 0 <= m.size < MAX_INT:
        return "size is not a non-negative 64-bit integer"
    if not isinstance(m.checksum, str) or not CHECKSUM.fullmatch(m.checksum):
        return f"checksum is not <algorithm>:<64 hex digits> ({' or '.join(ALGORITHMS)})"
    try:
        aware = datetime.fromisoformat(m.created).tzinfo is not None
    except ValueError:
        aware = False
    if not aware:
        return "created is not an ISO date-time with a time zone"
    if m.version is not None and (not _is_int(m.version) or not 1 <= m.version <= MAX_VERSION):
        return "version is not a positive integer"
    if m.step_run_id is not None and not isinstance(m.step_run_id, str):
        return "step_run_id is not a string"
    if not isinstance(m.inputs, list) or not all(isinstance(i, str) for i in m.inputs):
        return "inputs is not a list of ids"
    for name in ("metadata", "user_metadata", "libraries", "labels", "files"):
        if not isinstance(getattr(m, name), dict):
            return f"{name} is not an object"
    if not all(isinstance(v, str) for v in [*m.labels.values(), *m.libraries.values()]):
        return "labels and libraries must map to strings"
    if not isinstance(m.owner, dict) or not all(
        isinstance(v, str) and len(v) <= MAX_OWNER_CHARS for v in m.owner.values()
    ):
        return "owner is not an object of short strings"
    if m.updated is not None and not isinstance(m.updated, str):
        return "updated is not a date-time"
    return _files_problem(m)


def _files_problem(m: Manifest) -> str | None:
    if not isinstance(m.directory, bool):
        return "directory is not true or false"
    if m.directory != bool(m.files):
        return "directory and its file list disagree"
    for rel, entry in m.files.items():
        if problem := member_problem(rel):
            return f"folder member {rel!r:.80} is not usable: {problem}"
        if not (
            isinstance(entry, list)
            and len(entry) == 2
            and isinstance(entry[0], str)
            and _HEX.fullmatch(entry[0])
            and _is_int(entry[1])
            and 0 <= entry[1] < MAX_INT
        ):
            return f"folder member {rel!r:.80} lacks [hex digest, size]"
    return None


def _name_problem(value: Any, field: str) -> str | None:
    try:
        validate_name(value, field)
    except InvalidName:
        return f"{field} is not a valid name"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
