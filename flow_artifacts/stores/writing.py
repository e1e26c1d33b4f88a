"""Putting an artifact's bytes and manifest into a store without ever replacing what is there.

Where the filesystem renames (local disk, memory), bytes go to the write's own temporary (a file
named after the write, or a folder for a folder artifact) in the store's reserved namespace and
are moved into place only if the place is free; on local disk a small file the materializer
wrote whole is instead created unnamed at its final path (`stores/unnamed.py`), which fails
rather than replace a file there, and leaves nothing if the process is killed. On object
stores, writes go straight to their final name as conditional creates: the object appears whole
when its upload completes, or not at all.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import MaterializerError
from ..manifest import MANIFEST_SUFFIX, Manifest, ManifestJSON
from ..materializers.base import MAX_METADATA_BYTES, Materializer
from ..progress import progress_bar
from ..recording_fs import RecordingFileSystem
from .backend import StoreBackend
from .failures import ErrorTranslator, Failure, classify, materializer_failures
from .leases import PendingWrite
from .paths import files_only, is_local, link_into_place, rel_to, remove_exactly
from .reading import digest
from .transfer import iter_chunks
from .unnamed import create_whole

Written = tuple[dict[str, Any], bool, dict[str, tuple[str, int]]]
"""(the materializer's metadata, whether it wrote a directory, relative path -> (hex digest, size)),
the digests of the algorithm of new checksums."""


@dataclass(frozen=True)
class Writer:
    fs: Any
    root: str
    backend: StoreBackend
    errors: ErrorTranslator

    @functools.cached_property
    def local(self) -> bool:
        return is_local(self.fs)

    def data(
        self,
        obj: Any,
        key: str,
        data_path: str,
        materializer: Materializer,
        progress: bool | None,
        write: PendingWrite,
    ) -> Written:
        """Have `materializer` write `obj` to `data_path`, hashing every byte on its way.

        Where the store renames, the bytes go first to the write's own temporary in the store's
        reserved namespace. A taken key is refused before big uploads start (on local
        disk, before anything). Small uploads to object stores skip that round trip: their
        conditional creates refuse a taken data path anyway, and the manifest's create refuses a
        taken key. On failure, what this write made is removed, never a race winner's bytes; if
        that fails, `write.leftovers` is set, so its record is left to expire for gc.
        """

        def refuse_taken() -> None:
            with self.errors.io("writing", key):
                unprotected = not (self.backend.atomic_rename or self.backend.exclusive_create)
                if self._exists(f"{self.root}/{key}{MANIFEST_SUFFIX}") or (
                    unprotected and self._exists(data_path)
                ):
                    raise self.errors.error(Failure.EXISTS, "writing", key)

        target = data_path
        if not self.backend.exclusive_create:
            refuse_taken()
        elif not self.backend.atomic_rename and materializer.writes_directory(obj):
            # a folder is written in place, file by file: files already there (a killed
            # upload's) would become part of it
            with self.errors.io("writing", key):
                if self.fs.find(data_path):
                    raise self.errors.error(Failure.EXISTS, "writing", key)
        if self.backend.atomic_rename:
            # named without the user's name: the move out of here must never see a pattern
            extension = posixpath.basename(data_path)[len(posixpath.basename(key)) :]
            folder = materializer.writes_directory(obj)
            with self.errors.io("writing", key):
                self._makedirs(posixpath.dirname(data_path))
                if folder:
                    temp_folder = write.temp_folder()
                    self._makedirs(temp_folder)
                    target = f"{temp_folder}/data{extension}"
                else:
                    self._makedirs(posixpath.dirname(write.temp))
                    target = write.temp_file(f"data{extension}")
        bar = progress_bar(f"uploading {key}", progress=progress)
        fs = self.fs
        if self.backend.multipart_uploads:  # S3: big files go up in concurrent parts
            from .multipart import PartsFileSystem

            fs = PartsFileSystem(self.fs)
        recorder = RecordingFileSystem(
            fs,
            exclusive=self.backend.exclusive_create and target == data_path,
            directories=not self.backend.buckets,
            progress=bar,
            before_upload=refuse_taken if self.backend.exclusive_create else lambda: None,
            # a small local file is created unnamed in its place, never at its temporary
            held_path=target if self.local and target != data_path else None,
        )
        try:
            with self.errors.io("writing", key):
                metadata = _save(materializer, obj, recorder, target, key)
                directory = materializer.writes_directory(obj)
                files = self._written_files(recorder, target, directory)
                if target != data_path:
                    if not recorder.place_held(lambda body: create_whole(data_path, body)):
                        self._move(target, data_path)
                    write.moved(target)
        except BaseException as exc:
            if target != data_path or classify(exc) is not Failure.EXISTS:
                removed = [self.remove(target)]
            else:  # lost a race: the bytes there are the winner's, but for those this write made
                removed = [self.remove(path) for path in recorder.written]
            write.leftovers = not all(removed)
            raise
        finally:
            bar.close()
        return metadata or {}, directory, files

    def manifest(self, manifest: Manifest, write: PendingWrite) -> ManifestJSON:
        """Write the manifest, which makes the artifact visible; never over another one. Returns
        what it wrote.

        On local disk it appears whole: written unnamed and linked into place, or, where that
        is not available, written at a temporary of `write` first.
        """
        path = f"{self.root}/{manifest.key}{MANIFEST_SUFFIX}"
        body = manifest.encoded()
        self.create(
            path, body.text.encode(), manifest.key, staged=lambda: write.temp_file("manifest.json")
        )
        return body

    def create(
        self,
        path: str,
        body: bytes,
        what: str,
        *,
        parents: bool = False,
        staged: Callable[[], str] | None = None,
    ) -> None:
        """Write a small file, failing with `ArtifactExists` rather than replace one.

        On local disk it appears whole where the system has unnamed files (`stores/unnamed.py`);
        elsewhere, when `staged` gives a temporary to write it at first. Without one it is then
        created exclusively and written in place, which suits the journal: a record torn by a
        crash belongs to a change that never committed, and is skipped.
        """
        with self.errors.io("publishing", what):
            if parents and not self.backend.buckets:
                self._makedirs(posixpath.dirname(path))
            if self.local and create_whole(path, body):
                return
            if self.local and staged is not None:
                temp = staged()
                with open(temp, "wb") as f:
                    f.write(body)
                try:
                    link_into_place(temp, path)  # removes `temp` once it is in place
                except BaseException:
                    self.remove(temp)
                    raise
            elif self.local:
                with open(path, "xb") as f:
                    f.write(body)
            elif self.backend.exclusive_create:
                self.fs.pipe_file(path, body, mode="create")
            else:
                if self.fs.exists(path):
                    raise self.errors.error(Failure.EXISTS, "publishing", what)
                self.fs.pipe_file(path, body)

    def _exists(self, path: str) -> bool:
        """`fs.exists`; on local disk one `lstat`, as fsspec's, without its lookup and the
        exception it raises and catches for a missing file."""
        return os.path.lexists(path) if self.local else bool(self.fs.exists(path))

    def _makedirs(self, path: str) -> None:
        """`makedirs`, after one `stat` on local disk: the folders of a run exist after its first
        write, and a failed `mkdir` costs far more than a `stat`."""
        if not (self.local and os.path.isdir(path)):
            self.fs.makedirs(path, exist_ok=True)

    def remove(self, path: str) -> bool:
        """Delete a file or a whole tree by exact names; missing is fine. False if that failed
        (the write's record then expires, and gc retries)."""
        try:
            remove_exactly(self.fs, path)
        except Exception:
            return False
        return True

    def _written_files(
        self, recorder: RecordingFileSystem, target: str, directory: bool
    ) -> dict[str, tuple[str, int]]:
        """Hashes of what `save` wrote, from the recorder; files written otherwise are read once."""
        paths = list(files_only(self.fs.find(target, detail=True))) if directory else [target]
        if not paths:
            raise MaterializerError(
                f"the materializer wrote nothing at {rel_to(target, self.root)!r} of the store; "
                "its save() must write the path it is given"
            )
        files = {}
        for path in paths:
            stripped = self.fs._strip_protocol(path)
            known = recorder.written.get(stripped)
            files[rel_to(stripped, target)] = known or digest(iter_chunks(self.fs, stripped, None))
        return files

    def _move(self, temp: str, final: str) -> None:
        if self.local:
            link_into_place(temp, final)
            return
        if self.fs.exists(final):
            raise FileExistsError(final)
        self.fs.mv(temp, final, recursive=True)


def _save(
    materializer: Materializer, obj: Any, fs: RecordingFileSystem, target: str, key: str
) -> dict[str, Any]:
    with materializer_failures(materializer, "save", key):
        metadata = materializer.save(obj, fs, target)
        size = len(json.dumps(metadata or {}))  # as Manifest.encoded will
        if size > MAX_METADATA_BYTES:
            raise ValueError(
                f"it recorded {size >> 10} KiB of format metadata, more than the "
                f"{MAX_METADATA_BYTES >> 10} KiB every manifest and catalog row may hold; "
                "record a bounded preview of the data, not the data"
            )
    return metadata
