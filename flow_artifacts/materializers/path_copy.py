"""Files and directories on local disk, copied into the store as they are.

A directory may carry a `.artifactignore` file (`.dockerignore` syntax) to leave files out; only
regular files inside it are taken (see `folder_scan`). Loading
copies the artifact into a new temporary directory and returns its path (a `LocalFile`, removed
after `with`, or at exit), so the stored copy is never modified through it.
"""

from __future__ import annotations

import mimetypes
import posixpath
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, IntegrityError, UnsupportedOperation
from ..hookspecs import hookimpl
from ..local_file import LocalFile
from ..manifest_checks import member_destination, member_problem
from .base import ArtifactKind, Materializer
from .folder_scan import Member, open_member, scan_folder
from .ignore import IGNORE_FILE, IGNORE_FILES, IgnorePatterns

COPY_CHUNK = 8 << 20


@dataclass(frozen=True)
class Upload:
    """A local file or folder to store, saying whether symbolic links in a folder are followed
    (`fa.upload_file(..., follow_symlinks=True)`); a plain path follows none."""

    path: Path
    follow_symlinks: bool = False
    ignore_files: tuple[str, ...] | None = None
    """Ignore files of a folder, relative to it, all read; None: the first of `IGNORE_FILES`."""


class PathMaterializer(Materializer):
    id = "filesystem.path"
    handles = ("pathlib.PurePath", Upload)
    kind = ArtifactKind.FILE

    def accepts(self, obj: Any) -> bool:
        return _source(obj).exists()

    def extension_for(self, obj: Any) -> str:
        source = _source(obj)
        return "" if source.is_dir() else source.suffix

    def mime_type_for(self, obj: Any) -> str:
        """Guessed from the file name, so `cat` shows an uploaded text, CSV or JSON file."""
        source = _source(obj)
        if source.is_dir():
            return self.mime_type
        return mimetypes.guess_type(source.name)[0] or self.mime_type

    def writes_directory(self, obj: Any) -> bool:
        return _source(obj).is_dir()

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        source = _source(obj)
        kind = stat.S_IFMT(source.stat().st_mode)
        if kind == stat.S_IFREG:
            _copy_file(Member(source.name, source, link=True), fs, path)
            return {"filename": source.name, "type": "file"}
        if kind != stat.S_IFDIR:
            raise UnsupportedOperation(
                f"{source.name!r} is not a regular file or a folder; only those are uploaded"
            )
        used, patterns = _ignore_patterns(
            source, obj.ignore_files if isinstance(obj, Upload) else None
        )
        follow = isinstance(obj, Upload) and obj.follow_symlinks
        scan = scan_folder(source, patterns, follow_symlinks=follow)
        if not scan.members:
            after = f" (after {', '.join(used)})" if used else ""
            raise ValueError(f"directory {source.name!r} has no files to copy{after}")
        fs.makedirs(path, exist_ok=True)
        for member in scan.members:
            _copy_file(member, fs, f"{path}/{member.rel}")
        return {
            "filename": source.name,
            "type": "directory",
            "files": len(scan.members),
            "ignored": scan.ignored,
            "ignore_files": used,
        }

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> LocalFile:
        filename = metadata.get("filename")
        if not isinstance(filename, str) or member_problem(filename) or "/" in filename:
            raise IntegrityError(f"the recorded file name {filename!r:.120} is not one file name")
        target = LocalFile.temporary(filename)
        if metadata.get("type") == "directory":
            root = fs._strip_protocol(path)
            members = {remote[len(root) :].lstrip("/"): remote for remote in fs.find(path)}
            destinations = {
                rel: member_destination(target, rel, "the folder artifact") for rel in members
            }
            for rel, remote in members.items():
                destinations[rel].parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(remote, str(destinations[rel]))
        else:
            fs.get_file(path, str(target))
        return target


def _ignore_patterns(
    source: Path, names: tuple[str, ...] | None
) -> tuple[list[str], IgnorePatterns]:
    """The ignore files a folder upload reads and their patterns, in order (later ones win).

    Without `names`: `.artifactignore`, else `.dockerignore`. Named files must exist, so a
    misspelled name is an error instead of an upload of everything."""
    if names is None:
        found = next((n for n in IGNORE_FILES if (source / n).is_file()), None)
        names, required = (() if found is None else (found,)), False
    else:
        required = True
    lines: list[str] = []
    for name in names:
        problem = member_problem(name)
        file = source / name
        if problem or not file.is_file():
            if required:
                why = problem or "no such file in the folder"
                raise ConfigError(
                    f"ignore file {name!r:.120} of folder {source.name!r}: {why}; name files "
                    f"inside the folder, e.g. ignore_files=[{IGNORE_FILE!r}]"
                )
            continue
        lines += file.read_text(encoding="utf-8").splitlines()
    return list(names), IgnorePatterns(lines)


def _source(obj: Any) -> Path:
    return Path(obj.path if isinstance(obj, Upload) else obj)


def _copy_file(member: Member, fs: Any, path: str) -> None:
    fs.makedirs(posixpath.dirname(path), exist_ok=True)  # local fsspec does not create parents
    buffer = bytearray(COPY_CHUNK)  # one reused buffer: no 8 MiB allocation per chunk
    view = memoryview(buffer)
    with open_member(member) as src, fs.open(path, "wb") as dst:
        while n := src.readinto(buffer):
            dst.write(view[:n])


@hookimpl
def register_materializers(register: Callable[[type[Materializer]], None]) -> None:
    register(PathMaterializer)
