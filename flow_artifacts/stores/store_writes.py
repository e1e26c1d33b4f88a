"""The write path of `ArtifactStore`: bytes written once under a lease, the manifest returned
unpublished, then published, finished, withdrawn or abandoned.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from ..errors import ArtifactExists, ConfigError, FlowArtifactsError, StoreError
from ..hashing import directory_checksum, format_checksum
from ..limits import check_json, check_labels, check_row_fits, check_text
from ..manifest import MANIFEST_SUFFIX, Manifest, ManifestJSON, runtime_versions
from ..materializers.base import ArtifactKind, Materializer
from ..provenance import owner
from ..redact import redact_patch, scrub
from .leases import PendingWrite, Target, read_writes
from .store_reads import StoreReads

_VERSIONED_TRIES = 20
"""Keys tried for one write: the rendered one, then `<key>.v<N>` for the next free versions."""


class StoreWrites(StoreReads):
    """`write_data`, the one write path, and the end of each write it starts."""

    def write_data(
        self,
        obj: Any,
        choose: Callable[[Any], Materializer],
        *,
        name: str,
        key: str | None = None,
        project: str = "",
        run_id: str = "",
        step: str = "",
        pipeline: str = "default",
        labels: Mapping[str, str] | None = None,
        description: str = "",
        metadata: Mapping[str, Any] | None = None,
        kind: str | None = None,
        next_version: Callable[[], int] | None = None,
        versioned: bool = False,
        artifact_id: str | None = None,
        batch: PendingWrite | None = None,
    ) -> Manifest:
        """The one write path: publish the bytes of `obj` and return its complete manifest, not
        yet written (the caller commits it with `write_manifest`, alone or inside a catalog
        transaction).

        `key` defaults to the template rendered for (project, run_id, step, name, pipeline);
        `choose` picks the materializer. Given `next_version` (the catalog's next version of the
        name), a taken key does not fail the write: it goes to `<key>.v<version>` instead, so a
        template without `{run_id}`, or a name written twice in one run, still gets its own
        write-once path. `versioned` skips the rendered key: it was found taken. Everything the
        manifest and a catalog row hold is checked before the first byte. The write is recorded
        in the store before its first byte and its lease renewed until `finish_write`
        (committed) or `discard_unpublished`; if the process dies first, the lease expires and
        `gc` collects what it made. Given `batch` (from `batch_write`, naming this write's key,
        data path and `artifact_id`), the write is recorded by the batch's one record instead.
        """
        if key is None:
            key = self.template.render(
                project=project, run_id=run_id, step=step, name=name, pipeline=pipeline
            )
        if kind is not None and kind not in {k.value for k in ArtifactKind}:
            kinds = ", ".join(k.value for k in ArtifactKind)
            raise ConfigError(f"kind {kind!r} is not one of {kinds}")
        row_labels = {str(k): str(v) for k, v in (labels or {}).items()}
        check_labels(row_labels)
        check_text(description, "description")
        user_metadata = dict(metadata or {})
        check_json(user_metadata, "metadata")
        # secrets (secret-named keys, URL passwords) are recorded masked, in manifest and row
        row_labels = redact_patch(row_labels) or {}
        description = scrub(description)
        user_metadata = redact_patch(user_metadata) or {}
        materializer = choose(obj)
        self._identify("writing", key)  # on the store's first write, before any byte
        artifact_id = artifact_id or str(uuid.uuid4())
        key, data_rel, write, written = self._write_once(
            obj, key, materializer, next_version, versioned, artifact_id, batch
        )
        format_metadata, directory, files = written
        if directory:
            checksum = directory_checksum(files)
            file_list = {rel: [sha, size] for rel, (sha, size) in files.items()}
        else:
            checksum, file_list = format_checksum(files[""][0]), {}
        manifest = Manifest(
            id=artifact_id, key=key, data_path=data_rel, project=project, name=name,
            run_id=run_id, step=step, pipeline=pipeline, materializer=materializer.id,
            materializer_version=materializer.version, kind=kind or materializer.kind.value,
            mime_type=materializer.mime_type_for(obj), size=sum(size for _, size in files.values()),
            checksum=checksum, created=datetime.now(timezone.utc).isoformat(),
            directory=directory, metadata=format_metadata, files=file_list,
            libraries={**runtime_versions(), **materializer.library_versions()},
            labels=row_labels, description=description, user_metadata=user_metadata,
            owner=owner(),
        )  # fmt: skip
        self._writes[manifest.id] = write
        if write is batch:
            batch.holders += 1
        try:
            check_row_fits(manifest)
        except BaseException:
            self.discard_unpublished(manifest)
            raise
        return manifest

    def _write_once(
        self,
        obj: Any,
        key: str,
        materializer: Materializer,
        next_version: Callable[[], int] | None,
        versioned: bool,
        artifact_id: str,
        batch: PendingWrite | None,
    ) -> tuple[str, str, PendingWrite, Any]:
        """Write the bytes at `key`, or, if it is taken (or `versioned`) and `next_version` is
        given, at the first free `<key>.v<N>` from the name's next version on. Returns (key,
        data path, write, what was written)."""
        attempt, version = key, 0
        if versioned and next_version is not None:
            version = next_version()
            attempt = f"{key}.v{version}"
        tried: Target | None = None
        for _ in range(_VERSIONED_TRIES):
            data_rel = attempt + materializer.extension_for(obj)
            target = Target(attempt, data_rel, artifact_id)
            if batch is None:
                write = PendingWrite(
                    self.fs, self.root, attempt, data_rel, self.lease_seconds, artifact_id
                )
                with self._errors.io("writing", attempt):
                    write.start()
            else:  # recorded before its first byte, in place of a taken key it made nothing at
                write = batch
                with self._errors.io("writing", attempt):
                    batch.claim(target, replacing=tried)
            try:
                written = self._write_bytes(obj, attempt, data_rel, materializer, write)
            except ArtifactExists:
                self._end_attempt(write, batch)
                if next_version is None or write.leftovers:
                    raise
                tried = target
                version = max(version + 1, next_version())
                attempt = f"{key}.v{version}"
                continue
            except BaseException:
                self._end_attempt(write, batch)
                raise
            return attempt, data_rel, write, written
        raise ArtifactExists(
            f"artifact {key!r} and {_VERSIONED_TRIES - 1} versioned paths after it are taken in "
            f"{self}; write under another name or run_id"
        )

    def _end_attempt(self, write: PendingWrite, batch: PendingWrite | None) -> None:
        """A failed attempt's write ends (its record released unless it left files); a batch's
        one record stays for the batch's other writes, and expires if this one left files."""
        if batch is None:
            self._end_write(write, release=not write.leftovers)
        elif write.leftovers:
            batch.releasable = False

    def batch_write(self, targets: list[Target]) -> PendingWrite:
        """One pending write for the writes of a batch, recorded before the first byte of any of
        them and naming each (key, data path, artifact id) they will make: pass it to each
        `write_data` as `batch`, and to `end_batch` once every write of the batch ended."""
        first, *more = targets
        batch = PendingWrite(self.fs, self.root, *first[:2], self.lease_seconds, first[2])
        batch.targets.update(dict.fromkeys(more))
        with self._errors.io("writing", first.key):
            batch.start()
        batch.holders = 1  # the batch's own, dropped by `end_batch`
        return batch

    def end_batch(self, batch: PendingWrite) -> None:
        """The batch is done: its record goes once every write of it ended and released."""
        self._end_write(batch, release=True)

    def write_manifest(self, manifest: Manifest) -> ManifestJSON:
        """Make the artifact visible. Fails with `ArtifactExists` rather than overwrite. Returns
        the manifest's JSON as written, for its catalog row."""
        write = self._pending(manifest)
        write.check(manifest.key)
        if manifest.id in write.published:
            # an earlier attempt of the catalog transaction published it, then rolled back (a
            # busy database is retried): that manifest may name another version; this replaces it
            self._withdraw_manifest(manifest)
        written = self._writer.manifest(manifest, write)
        write.published.add(manifest.id)
        return written

    def finish_write(self, manifest: Manifest) -> None:
        """End the write of a committed artifact: its row (or manifest) now owns the bytes."""
        self._end_write(self._writes.pop(manifest.id, None), release=True)

    def discard_unpublished(self, manifest: Manifest) -> None:
        """Withdraw a write that did not commit: its manifest if it is ours, then its bytes.

        Call it only when no catalog row holds `manifest`. When another writer's manifest took
        the key, our bytes are removed only if they are not where that manifest points (a
        conditional write never let us replace them there).
        """
        try:
            published = self._withdraw_manifest(manifest)
        except BaseException:  # its record must expire (never be renewed on): gc settles it
            self._end_write(self._writes.pop(manifest.id, None), release=False)
            raise
        removed = True
        if published is None or published.data_path != manifest.data_path:
            removed = self._writer.remove(self._abs(manifest.data_path))
        self._end_write(self._writes.pop(manifest.id, None), release=removed)

    def _withdraw_manifest(self, manifest: Manifest) -> Manifest | None:
        """Remove the manifest at `manifest.key` if it is this artifact's; return another
        writer's manifest found there instead (None if there is none)."""
        try:
            published = self.get_manifest(manifest.key)
        except FlowArtifactsError:
            return None
        if published.id != manifest.id:
            return published
        with self._errors.io("withdrawing", manifest.key):
            self.fs.rm_file(self._abs(manifest.key + MANIFEST_SUFFIX))
        return None

    def abandon_write(self, manifest: Manifest) -> None:
        """Stop renewing the lease of a write whose commit cannot be confirmed: its record stays
        and expires, and `gc` then removes what it covers unless a catalog row owns it."""
        self._end_write(self._writes.pop(manifest.id, None), release=False)

    def _pending(self, manifest: Manifest) -> PendingWrite:
        try:
            return self._writes[manifest.id]
        except KeyError:
            raise StoreError(
                f"artifact {manifest.key!r} was not written by write_data of {self}, or its "
                "write already ended"
            ) from None

    def _write_bytes(
        self, obj: Any, key: str, data_rel: str, materializer: Materializer, write: PendingWrite
    ) -> Any:
        """The bytes, written once more if the key was blocked only by dead writes' leftovers."""
        try:
            return self._writer.data(
                obj, key, self._abs(data_rel), materializer, self.progress, write
            )
        except ArtifactExists:
            if write.leftovers or not self._clear_dead_writes(key, data_rel, write.id):
                raise
        return self._writer.data(obj, key, self._abs(data_rel), materializer, self.progress, write)

    def _clear_dead_writes(self, key: str, data_rel: str, own: str) -> bool:
        """Remove what dead writes of `key` left at its data path (on object stores a killed
        folder upload leaves files there). False if the key is really taken: a manifest, a live
        writer, or files no recorded write accounts for."""
        with self._errors.io("writing", key):
            if self.fs.exists(self._abs(key + MANIFEST_SUFFIX)):
                return False
            records, _ = read_writes(self.fs, self.root)
            now = datetime.now(timezone.utc)
            holders = [
                r for r in records.values()
                if r.id != own and any(t.key == key or t.data_path == data_rel for t in r.targets)
            ]  # fmt: skip
            if not holders or any(not r.expired(now) or r.more for r in holders):
                return False  # a live writer, or a dead batch's record: gc settles the batch
            if not any(t.data_path == data_rel for r in holders for t in r.targets):
                return False  # the key's dead writes made other files: these are no one's
            if not self._writer.remove(self._abs(data_rel)):
                return False
            for record in holders:
                if not any(t.data_path == data_rel for t in record.targets):
                    continue  # its own leftovers are elsewhere: its record stays, for gc
                self._writer.remove(self._abs(record.temp))  # its single-file ones: gc's
                self._writer.remove(self._abs(record.record))
        return True

    def _end_write(self, write: PendingWrite | None, *, release: bool) -> None:
        if write is None:
            return
        if write.holders:  # a batch's: it ends with the last of its writes
            write.releasable = write.releasable and release
            write.holders -= 1
            if write.holders:
                return
            release = write.releasable
        if release and write.temps:  # those not moved into place (only where it renames)
            release = all([self._writer.remove(path) for path in write.temps])
        write.end(release=release)
