"""Files and directories on local disk, copied into the store as they are.

A directory may carry a `.artifactignore` file (`.dockerignore` syntax) to leave files out. Loading
copies the artifact into a new temporary directory and returns its path, so the stored copy is
never modified through it.
"""

from __future__ import annotations

import mimetypes
import os
import posixpath
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..hookspecs import hookimpl
from ..errors import IntegrityError
from ..manifest_checks import member_destination, member_problem
from .base import ArtifactKind, Materializer
from .ignore import IGNORE_FILE, IgnorePatterns

COPY_CHUNK = 8 << 20


class PathMaterializer(Materializer):
    id = "filesystem.path"
    handles = ("pathlib.PurePath",)
    kind = ArtifactKind.FILE

    def accepts(self, obj: Any) -> bool:
        return Path(obj).exists()

    def extension_for(self, obj: Any) -> str:
        return "" if Path(obj).is_dir() else Path(obj).suffix

    def mime_type_for(self, obj: Any) -> str:
        """Guessed from the file name, so `cat` shows an uploaded text, CSV or JSON file."""
        if Path(obj).is_dir():
            return self.mime_type
        return mimetypes.guess_type(Path(obj).name)[0] or self.mime_type

    def writes_directory(self, obj: Any) -> bool:
        return Path(obj).is_dir()

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        source = Path(obj)
        if source.is_file():
            _copy_file(source, fs, path)
            return {"filename": source.name, "type": "file"}
        ignore_file = source / IGNORE_FILE
        patterns = IgnorePatterns.parse(ignore_file.read_text() if ignore_file.exists() else "")
        copied, skipped = 0, 0
        fs.makedirs(path, exist_ok=True)
        for dirpath, dirnames, filenames in os.walk(source):
            dirnames.sort()
            for filename in sorted(filenames):
                file_path = Path(dirpath) / filename
                rel = file_path.relative_to(source).as_posix()
                if patterns.ignores(rel):
                    skipped += 1
                    continue
                _copy_file(file_path, fs, f"{path}/{rel}")
                copied += 1
        if copied == 0:
            raise ValueError(f"directory {source} has no files to copy (after {IGNORE_FILE})")
        return {"filename": source.name, "type": "directory", "files": copied, "ignored": skipped}

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Path:
        filename = metadata.get("filename")
        if member_problem(filename) or "/" in filename:
            raise IntegrityError(f"the recorded file name {filename!r:.120} is not one file name")
        target = Path(tempfile.mkdtemp(prefix="flow-artifacts-")) / filename
        if metadata.get("type") == "directory":
            root = fs._strip_protocol(path)
            members = {remote[len(root) :].lstrip("/"): remote for remote in fs.find(path)}
            destinations = {rel: member_destination(target, rel, "the folder artifact") for rel in members}
            for rel, remote in members.items():
                destinations[rel].parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(remote, str(destinations[rel]))
        else:
            fs.get_file(path, str(target))
        return target


def _copy_file(source: Path, fs: Any, path: str) -> None:
    fs.makedirs(posixpath.dirname(path), exist_ok=True)  # local fsspec does not create parents
    buffer = bytearray(COPY_CHUNK)  # one reused buffer: no 8 MiB allocation per chunk
    view = memoryview(buffer)
    with open(source, "rb") as src, fs.open(path, "wb") as dst:
        while n := src.readinto(buffer):
            dst.write(view[:n])


@hookimpl
def register_materializers(register: Callable[[type[Materializer]], None]) -> None:
    register(PathMaterializer)
