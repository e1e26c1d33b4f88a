"""Maintenance of `ArtifactStore`: deletes, listings of what the store holds (files, pending
writes, unfinished uploads), exact removals, and the small files the journal keeps.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import StoreError
from ..manifest import MANIFEST_SUFFIX, Manifest
from ..redact import scrub
from .failures import Failure, classify
from .leases import PendingWrite, WriteRecord, read_writes
from .paths import WRITES, modified, reserved
from .store_base import is_artifact
from .store_reads import StoreReads
from .transfer import read_record
from .uploads import Upload, abort, multipart_uploads

if TYPE_CHECKING:
    from ..artifact import Artifact


log = logging.getLogger("flow_artifacts.store")


class StoreMaintenance(StoreReads):
    """Deleting artifacts, listing and removing what the store holds, the journal's files."""

    def delete(self, ref: str | Artifact | Manifest) -> None:
        """Remove an artifact: its manifest first, so it is never half visible, then its bytes.

        Given a `Manifest` (a catalog row), exactly its paths are removed and the store's
        manifest is not consulted; given a reference, the checked manifest found there says.
        """
        if isinstance(ref, Manifest):
            manifest = ref
        elif is_artifact(ref) and not ref.from_store:  # type: ignore[union-attr]
            manifest = ref.manifest  # type: ignore[union-attr]
        else:
            manifest = self.get_manifest(ref)
        data = self.locate(manifest)
        with self._errors.io("deleting", manifest.key):
            try:
                self.fs.rm_file(self._abs(manifest.key + MANIFEST_SUFFIX))
            except Exception as exc:
                if classify(exc) is not Failure.MISSING or not isinstance(ref, Manifest):
                    raise
            if not self._writer.remove(data):
                raise StoreError(
                    f"could not remove all bytes of artifact {manifest.key!r} from {self}; "
                    "its manifest is gone, run the delete again to finish"
                )

    @contextlib.contextmanager
    def deleting(self, manifests: list[Manifest]) -> Iterator[None]:
        """Hold a write lease on each artifact while it is deleted (row, manifest, bytes).

        A delete interrupted after the rows went leaves files no row owns: once the lease has
        expired, `gc` finishes the delete instead of taking them for a foreign catalog's.
        """
        writes = []
        try:
            for manifest in manifests:
                write = PendingWrite(
                    self.fs, self.root, manifest.key, manifest.data_path, self.lease_seconds
                )
                with self._errors.io("deleting", manifest.key):
                    write.start()
                writes.append(write)
            yield
        except BaseException:
            for write in writes:
                write.end(release=False)
            raise
        for write in writes:
            write.end(release=True)

    def list_artifacts(self, prefix: str = "") -> list[str]:
        """Keys of the artifacts whose key starts with `prefix`, sorted."""
        prefix = prefix.strip("/")
        directory = self._abs(posixpath.dirname(prefix)) if prefix else self.root
        keys = []
        for path in self._find(directory, prefix or "*"):
            rel = self._rel(path)
            # a key's last segment is a name, which never starts with '.' (a crashed old
            # version's temporary could)
            if rel.endswith(MANIFEST_SUFFIX) and not (
                reserved(rel) or posixpath.basename(rel).startswith(".")
            ):
                key = rel[: -len(MANIFEST_SUFFIX)]
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def inventory(self) -> dict[str, datetime | None]:
        """Every file in the store (relative path -> last modified, when the store says)."""
        return {
            self._rel(path): modified(info) for path, info in self._find(self.root, "*").items()
        }

    def writes(self) -> tuple[dict[str, WriteRecord], list[str]]:
        """Pending writes recorded in the store (id -> record), and unreadable records."""
        with self._errors.io("listing", WRITES):
            return read_writes(self.fs, self.root)

    def uploads(self) -> list[tuple[str, Upload]]:
        """Unfinished multipart uploads under the root, with their store-relative paths."""
        if not self.backend.multipart_uploads:
            return []
        with self._errors.io("listing", "multipart uploads"):
            return [(self._rel(u.path), u) for u in multipart_uploads(self.fs, self.root)]

    def abort_upload(self, upload: Upload) -> None:
        with self._errors.io("aborting", upload.path):
            abort(self.fs, upload)

    def remove_paths(self, rels: list[str]) -> None:
        """Delete store-relative paths (maintenance), each exactly; missing ones are fine."""
        for rel in rels:
            if not self._writer.remove(self._abs(rel)):
                raise StoreError(f"could not remove {rel!r} from {self}; run gc again")

    def write_small(self, rel: str, body: bytes) -> None:
        """Create a small file at store-relative `rel`; `ArtifactExists` if it is there."""
        self._writer.create(self._abs(rel), body, rel, parents=True)

    def read_small(self, rel: str) -> bytes:
        with self._errors.io("reading", rel):
            return read_record(self.fs, self._abs(rel))

    def remove_file(self, rel: str) -> None:
        """Delete exactly one file; missing is fine. Failing is logged, not raised: the callers
        withdraw what a failed change left (a journal record, which `reindex` then does not
        follow against the catalog), and the change's own error is the one to report."""
        try:
            self.fs.rm_file(self._abs(rel))
        except Exception as exc:
            if classify(exc) is not Failure.MISSING:
                log.warning("could not remove %s from %s: %s", rel, self, scrub(str(exc)))

    def list_files(self, folder: str) -> list[str]:
        """Store-relative paths of the files under `folder`, sorted."""
        return sorted(self._rel(path) for path in self._find(self._abs(folder), folder))
