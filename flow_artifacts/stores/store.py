"""`ArtifactStore`: artifacts as bytes plus a manifest on any fsspec filesystem.

Writes are invisible until complete. Where the filesystem can rename (local disk, memory), bytes go
to a hidden temporary name and are linked into place without overwriting anything. On object
stores (S3, GCS, Azure) an object appears whole when its upload completes, and every write is
conditional (if-none-match), so of two writers racing for a key exactly one wins. Either way the
manifest is written last, and an artifact exists exactly when its manifest does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from ..errors import (
    ArtifactExists,
    ArtifactNotFound,
    ConfigError,
    FlowArtifactsError,
    IntegrityError,
    PickleRefused,
    StoreError,
    UnsupportedOperation,
)
from ..hashing import directory_checksum, format_checksum
from ..limits import check_json, check_labels, check_row_fits, check_text
from ..manifest import MANIFEST_SUFFIX, Manifest, runtime_versions
from ..manifest_checks import check_manifest, path_problem
from ..materializers.base import ArtifactKind, Materializer
from ..materializers.registry import Dispatch
from ..naming import validate_new_name
from ..plugins import PluginHost, default_plugin_host
from ..provenance import owner
from ..redact import redact_url, scrub, secret_values
from ..template import PLACEHOLDER_FIX, PathTemplate, url_placeholder
from .failures import ErrorTranslator, Failure, classify
from .identity import store_identity
from .leases import DEFAULT_LEASE_SECONDS, PendingWrite, WriteRecord, read_writes
from .paths import IDENTITY, WRITES, candidate_keys, files_only, modified, rel_to, reserved
from .reading import download_tree, load_object, stored_checksum, verified_stream
from .transfer import READ_CHUNK, read_whole
from .uploads import Upload, abort, multipart_uploads
from .writing import Writer

if TYPE_CHECKING:
    from ..artifact import Artifact
    from ..journal import Journal

log = logging.getLogger("flow_artifacts.store")
_VERSIONED_TRIES = 20
"""Keys tried for one write: the rendered one, then `<key>.v<N>` for the next free versions."""


class ArtifactStore:
    """Artifacts on one fsspec URL: `materialize`/`save` to write, `load` to read back.

    `storage_options` go to fsspec as they are and are never written anywhere or shown: not in
    `repr()`, not in error messages. On object stores, listings are not cached unless asked
    (`use_listings_cache=True`), since other processes add and remove artifacts.
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        template: str | PathTemplate = PathTemplate(),
        plugins: PluginHost | None = None,
        progress: bool | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        **storage_options: Any,
    ) -> None:
        raw_url = os.fspath(url)
        placeholder = url_placeholder(raw_url)
        if placeholder:
            raise ConfigError(
                f"store URL {redact_url(raw_url)!r} holds {placeholder}, which would become a "
                f"folder of that name; {PLACEHOLDER_FIX}"
            )
        self.url = redact_url(raw_url)
        """The store's URL, without any `user:password@` part, as recorded in the catalog."""
        self.progress = progress
        """Progress bars for long transfers: None shows them in interactive terminals only."""
        self.plugins = plugins or default_plugin_host()
        self.template = template if isinstance(template, PathTemplate) else PathTemplate(template)
        self.lease_seconds = lease_seconds
        """How long a write in flight stays alive without renewal (see `stores/leases.py`)."""
        self.backend = self.plugins.store_backends.for_protocol(fsspec.utils.get_protocol(raw_url))
        secrets = secret_values([raw_url, storage_options])
        self._errors = ErrorTranslator(repr(self), secrets, self._root_missing)
        self.backend.check_installed(self.url)
        if self.backend.buckets:
            storage_options = {"use_listings_cache": False, **storage_options}
        try:
            self.fs, root = fsspec.core.url_to_fs(raw_url, **storage_options)
        except (ImportError, ValueError, TypeError) as exc:
            raise StoreError(scrub(f"cannot open store {self.url}: {exc}", secrets)) from exc
        self.root = root.rstrip("/")
        self._local = isinstance(self.fs, LocalFileSystem)
        self._writer = Writer(self.fs, self.root, self.backend, self._errors)
        self._writes: dict[str, PendingWrite] = {}
        self._identity: str | None = None
        self._real_root: str | None = None
        """The root with symbolic links resolved, once: what every read path must lie in."""
        if self._local:
            os.makedirs(self.root, exist_ok=True)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"

    @property
    def identity(self) -> str:
        """The store's id, recorded at its root on first use: the same however the URL is
        spelled (moved folder, trailing slash, `file://`, endpoint alias)."""
        return self._identify("reading", IDENTITY)

    def _identify(self, operation: str, key: str) -> str:
        if self._identity is None:
            with self._errors.io(operation, key):
                self._identity = store_identity(self.fs, self.root, local=self._local)
        return self._identity

    # --- writing -------------------------------------------------------------------------------

    def materialize(
        self,
        obj: Any,
        name: str,
        run_id: str,
        step_name: str,
        project: str = "default",
        *,
        pipeline: str = "default",
        materializer: str | None = None,
        overrides: Mapping[str, str] | None = None,
        allow_pickle: bool = True,
        project_name: str | None = None,
    ) -> Artifact:
        """Save `obj` at the templated path for (project, run_id, step_name, name).

        `project_name` is FlowyML's spelling of `project`."""
        if project_name is not None:
            if project not in ("default", project_name):
                raise ConfigError(
                    f"project={project!r} and project_name={project_name!r} disagree; pass one"
                )
            project = project_name
        dispatch = Dispatch(
            self.plugins.materializers, materializer, dict(overrides or {}), allow_pickle
        )
        manifest = self.write_data(
            obj, dispatch.choose, name=name, project=project, run_id=run_id, step=step_name,
            pipeline=pipeline,
        )  # fmt: skip
        self._publish_manifest(manifest)
        return self.artifact(manifest)

    def save(
        self,
        obj: Any,
        path: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        materializer: str | None = None,
    ) -> Artifact:
        """Save `obj` at an explicit `path` (no template); `metadata` is kept in the manifest.

        A path that already ends with the format's extension (`reports/metrics.json` for a
        dict) is the data file's own name; otherwise the extension is appended."""
        segments = path.strip("/").split("/")
        for segment in segments:
            validate_new_name(segment, "path segment")
        chosen = Dispatch(self.plugins.materializers, materializer).choose(obj)
        extension = chosen.extension_for(obj)
        last = segments[-1]
        if extension and last.endswith(extension) and len(last) > len(extension):
            segments[-1] = last[: -len(extension)]
        manifest = self.write_data(
            obj, lambda _: chosen, key="/".join(segments), name=segments[-1], metadata=metadata
        )
        self._publish_manifest(manifest)
        return self.artifact(manifest)

    def _publish_manifest(self, manifest: Manifest) -> None:
        """`write_manifest`, removing the published bytes if it fails, so the key stays free."""
        try:
            self.write_manifest(manifest)
        except BaseException:
            self.discard_unpublished(manifest)
            raise
        self.finish_write(manifest)

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
        `gc` collects what it made.
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
        materializer = choose(obj)
        self._identify("writing", key)  # on the store's first write, before any byte
        artifact_id = str(uuid.uuid4())
        key, data_rel, write, written = self._write_once(
            obj, key, materializer, next_version, versioned, artifact_id
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
    ) -> tuple[str, str, PendingWrite, Any]:
        """Write the bytes at `key`, or, if it is taken (or `versioned`) and `next_version` is
        given, at the first free `<key>.v<N>` from the name's next version on. Returns (key,
        data path, write, what was written)."""
        attempt, version = key, 0
        if versioned and next_version is not None:
            version = next_version()
            attempt = f"{key}.v{version}"
        for _ in range(_VERSIONED_TRIES):
            data_rel = attempt + materializer.extension_for(obj)
            write = PendingWrite(
                self.fs, self.root, attempt, data_rel, self.lease_seconds, artifact_id
            )
            with self._errors.io("writing", attempt):
                write.start()
            try:
                written = self._write_bytes(obj, attempt, data_rel, materializer, write)
            except ArtifactExists:
                self._end_write(write, release=not write.leftovers)
                if next_version is None or write.leftovers:
                    raise
                version = max(version + 1, next_version())
                attempt = f"{key}.v{version}"
                continue
            except BaseException:
                self._end_write(write, release=not write.leftovers)
                raise
            return attempt, data_rel, write, written
        raise ArtifactExists(
            f"artifact {key!r} and {_VERSIONED_TRIES - 1} versioned paths after it are taken in "
            f"{self}; write under another name or run_id"
        )

    def write_manifest(self, manifest: Manifest) -> None:
        """Make the artifact visible. Fails with `ArtifactExists` rather than overwrite."""
        write = self._pending(manifest)
        write.check()
        self._writer.manifest(manifest, write.temp_file("manifest.json"))

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
            published = self.get_manifest(manifest.key)
        except FlowArtifactsError:
            published = None
        removed = True
        if published is not None and published.id == manifest.id:
            with self._errors.io("withdrawing", manifest.key):
                self.fs.rm_file(self._abs(manifest.key + MANIFEST_SUFFIX))
            published = None
        if published is None or published.data_path != manifest.data_path:
            removed = self._writer.remove(self._abs(manifest.data_path))
        self._end_write(self._writes.pop(manifest.id, None), release=removed)

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
                if r.id != own and (r.key == key or r.data_path == data_rel)
            ]  # fmt: skip
            if not holders or any(not r.expired(now) for r in holders):
                return False
            if not self._writer.remove(self._abs(data_rel)):
                return False
            for record in holders:
                self._writer.remove(self._abs(record.temp))  # its single-file ones: gc's
                self._writer.remove(self._abs(record.record))
        return True

    def _end_write(self, write: PendingWrite | None, *, release: bool) -> None:
        if write is None:
            return
        if release and self.backend.atomic_rename:  # elsewhere nothing goes to temporaries
            release = all([self._writer.remove(path) for path in (write.temp, *write.temps)])
        write.end(release=release)

    def sign(
        self, manifest: Manifest, expires_in: int, *, allow_local: bool = False, **options: Any
    ) -> str:
        """A URL that downloads the artifact's bytes without credentials for `expires_in` s;
        `options` go to the filesystem's `sign()` (e.g. `credentials=` on GCS)."""
        if manifest.directory:
            raise UnsupportedOperation(f"artifact {manifest.key!r} is a directory: sign its files")
        if expires_in <= 0:
            raise ConfigError(f"expires_in must be a positive number of seconds, not {expires_in}")
        path = self.locate(manifest)
        if self.backend.can_sign:
            try:
                with self._errors.io("signing", manifest.key):
                    return str(self.fs.sign(path, expiration=int(expires_in), **options))
            except (AttributeError, NotImplementedError, TypeError, ValueError) as exc:
                hint = f" {self.backend.sign_hint}" if self.backend.sign_hint else ""
                detail = scrub(str(exc), self._errors.secrets)
                raise UnsupportedOperation(
                    f"{self} could not sign artifact {manifest.key!r}: {detail}.{hint}"
                ) from exc
        if self._local and allow_local:
            return Path(path).as_uri()
        raise UnsupportedOperation(
            f"{self} cannot make presigned URLs"
            + ("; pass allow_local=True for a file:// URL" if self._local else "")
        )

    # --- reading -------------------------------------------------------------------------------

    def get_manifest(self, ref: str | Artifact) -> Manifest:
        """The manifest of an artifact given by key, data path (relative or full) or handle.

        It is read from the store, so it is checked (`check_manifest`) before it is returned.
        """
        for key in self.keys_for(ref):
            path = self._abs(key + MANIFEST_SUFFIX)
            with self._errors.io("reading", key):
                try:
                    raw = read_whole(self.fs, path)
                except Exception as exc:
                    if classify(exc) is Failure.MISSING:
                        continue
                    raise
            where = f"{key}{MANIFEST_SUFFIX} in {self}"
            manifest = Manifest.from_json(raw, where=where)
            return check_manifest(
                manifest, key=key, materializers=self.plugins.materializers, where=where
            )
        if self._root_missing():
            raise self._errors.error(Failure.MISSING, "reading", _ref_text(ref))
        raise ArtifactNotFound(
            f"no artifact at {_ref_text(ref)!r} in the store; list them with store.list_artifacts()"
        )

    def artifact(self, ref: str | Manifest) -> Artifact:
        """A handle; given a reference, its manifest is read from the store (so never unpickled)."""
        from ..artifact import Artifact

        if isinstance(ref, Manifest):
            return Artifact(ref, store=self)
        return Artifact(self.get_manifest(ref), store=self, from_store=True)

    def load(self, ref: str | Artifact, *, verify: bool = True) -> Any:
        """Load an artifact's object. With `verify`, its checksum is checked too.

        Pickles are verified before they are loaded; other formats before or while loading
        (see `stores/reading.py`), and the object is discarded if the bytes turn out corrupted.
        A pickle is loaded only through a handle whose manifest a catalog or this process vouches
        for, never from a manifest merely found in the store.
        """
        if _is_artifact(ref):
            manifest, vouched = ref.manifest, not ref.from_store  # type: ignore[union-attr]
        else:
            manifest, vouched = self.get_manifest(ref), False
        materializer = self.plugins.materializers.get(manifest.materializer)
        if materializer.uses_pickle and not vouched:
            raise PickleRefused(
                f"{manifest.key} is a pickle found in the store without a catalog row, so nobody "
                "vouches for its bytes; record it (`flow-artifacts reindex` if you trust the "
                "store) and load it through the stack"
            )
        data = self.locate(manifest)
        if manifest.directory:
            self._members(manifest, data)
        check = self.verify if verify or materializer.uses_pickle else None
        return load_object(materializer, self.fs, data, manifest, self._errors, check)

    def verify(self, ref: str | Manifest) -> None:
        """Re-hash the stored bytes; raise `IntegrityError` naming the artifact on a mismatch."""
        manifest = ref if isinstance(ref, Manifest) else self.get_manifest(ref)
        actual = self.compute_checksum(manifest)
        if actual != manifest.checksum:
            raise IntegrityError(
                f"artifact {manifest.key!r} in {self} is corrupted: its bytes hash to {actual}, "
                f"but {manifest.checksum} was recorded. Restore it or delete it."
            )

    def compute_checksum(self, manifest: Manifest) -> str:
        data = self.locate(manifest)
        try:
            with self._errors.io("reading", manifest.key):
                return stored_checksum(self.fs, data, manifest)
        except ArtifactNotFound as exc:
            raise IntegrityError(
                f"the bytes of artifact {manifest.key!r} are missing from {self}"
            ) from exc

    def open_stream(self, manifest: Manifest, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
        """Chunks of a single-file artifact, hashed on the way; a mismatch raises at the end.

        At most two chunks are in memory: the one yielded and the one being fetched. A
        `chunk_size` of 0 or less (IVCAP's -1) asks for the whole content as one chunk.
        """
        data = self.locate(manifest)
        if chunk_size <= 0:
            return _one_chunk(verified_stream(self.fs, data, manifest, READ_CHUNK, self._errors))
        return verified_stream(self.fs, data, manifest, chunk_size, self._errors)

    def download_directory(self, manifest: Manifest, target: str | os.PathLike[str]) -> None:
        """Copy a directory artifact to local `target`, then check it against its checksum.

        Only the members its file list names are copied, each checked to land inside `target`
        before anything is written.
        """
        members = self._members(manifest, self.locate(manifest))
        download_tree(self.fs, members, manifest, target, self._errors)

    def locate(self, manifest: Manifest) -> str:
        """The full path of an artifact's bytes, once its data path is proven to be its key plus
        an extension inside this store (on local disk, also after resolving symbolic links)."""
        problem = path_problem(manifest)
        data = self._abs(manifest.data_path)
        if problem is None and self._local and not self._inside_root(data):
            problem = "its bytes are a symbolic link leading outside the store"
        if problem:
            raise IntegrityError(
                f"artifact {manifest.key!r:.120} in {self} cannot be read or deleted: {problem}. "
                "Its record was edited; restore it or remove it with gc."
            )
        return data

    def _members(self, manifest: Manifest, data: str) -> dict[str, str]:
        """Member name -> full path of a folder artifact, listed in the store and required to be
        exactly the members its file list records (and on local disk, inside the store)."""
        with self._errors.io("listing", manifest.key):
            found = {
                rel_to(self.fs._strip_protocol(path), data): path
                for path in files_only(self.fs.find(data, detail=True))
            }
        unexpected = sorted(set(found) - set(manifest.files))
        missing = sorted(set(manifest.files) - set(found))
        outside = [
            rel for rel, path in found.items() if self._local and not self._inside_root(path)
        ]
        if unexpected or missing or outside:
            detail = "; ".join(
                f"{what}: {', '.join(repr(r[:120]) for r in rels[:5])}"
                for what, rels in (
                    ("files not in its record", unexpected),
                    ("files missing", missing),
                    ("links leading outside the store", outside),
                )
                if rels
            )
            raise IntegrityError(
                f"folder artifact {manifest.key!r} in {self} does not match its record ({detail}); "
                "nothing was copied. Restore it or delete it."
            )
        return found

    def _inside_root(self, path: str) -> bool:
        if self._real_root is None:
            self._real_root = os.path.realpath(self.root)
        return os.path.realpath(path).startswith(self._real_root + os.sep)

    # --- management ----------------------------------------------------------------------------

    def exists(self, ref: str | Artifact) -> bool:
        try:
            self.get_manifest(ref)
        except ArtifactNotFound:
            return False
        return True

    def get_metadata(self, ref: str | Artifact) -> dict[str, Any] | None:
        """The whole manifest as a dict (format metadata, checksum, size, identity, versions),
        or None when no artifact is there (FlowyML's contract)."""
        try:
            return self.get_manifest(ref).to_dict()
        except ArtifactNotFound:
            return None

    def size(self, ref: str | Artifact) -> int:
        return self.get_manifest(ref).size

    def delete(self, ref: str | Artifact | Manifest) -> None:
        """Remove an artifact: its manifest first, so it is never half visible, then its bytes.

        Given a `Manifest` (a catalog row), exactly its paths are removed and the store's
        manifest is not consulted; given a reference, the checked manifest found there says.
        """
        if isinstance(ref, Manifest):
            manifest = ref
        elif _is_artifact(ref) and not ref.from_store:  # type: ignore[union-attr]
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

    @property
    def journal(self) -> Journal:
        """This store's journal of catalog changes (see `journal.py`)."""
        from ..journal import Journal

        return Journal(self)

    def write_small(self, rel: str, body: bytes) -> None:
        """Create a small file at store-relative `rel`; `ArtifactExists` if it is there."""
        self._writer.create(self._abs(rel), body, rel, parents=True)

    def read_small(self, rel: str) -> bytes:
        with self._errors.io("reading", rel):
            return read_whole(self.fs, self._abs(rel))

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

    def full_path(self, rel: str) -> str:
        """A path users can show and open: plain on local disk, with the protocol elsewhere."""
        path = self._abs(rel)
        return path if self._local else self.fs.unstrip_protocol(path)

    # --- internals -----------------------------------------------------------------------------

    def _abs(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def _rel(self, path: str) -> str:
        return rel_to(path, self.root)

    def keys_for(self, ref: str | Artifact) -> list[str]:
        """The keys a reference (key, data path relative or full, handle) may name."""
        if _is_artifact(ref):
            return [ref.manifest.key]  # type: ignore[union-attr]
        if not isinstance(ref, str):
            return []
        for prefix in (self.full_path(""), self.root):
            if prefix and ref.startswith(prefix + "/"):
                return candidate_keys(ref[len(prefix) + 1 :])
        return candidate_keys(ref)

    def _find(self, path: str, what: str) -> dict[str, Mapping[str, Any]]:
        """Files under `path` with their details; none if it does not exist, unless that is
        because the bucket (or root folder) itself is missing, which some SDKs list as empty."""
        with self._errors.io("listing", what):
            try:
                found = files_only(self.fs.find(path, detail=True))
            except Exception as exc:
                if classify(exc) is not Failure.MISSING:
                    raise
                found = {}
            if not found and self._root_missing():
                raise FileNotFoundError(path)
        return found

    def _root_missing(self) -> bool:
        """Whether the bucket (object stores) or root folder (local disk) is gone."""
        if not (self.backend.buckets or self._local):
            return False
        root = self.root.split("/", 1)[0] if self.backend.buckets else self.root
        try:
            return not self.fs.exists(root)
        except Exception:  # unsure, e.g. not allowed to look: not "missing"
            return False


def _one_chunk(chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield b"".join(chunks)


def _is_artifact(ref: object) -> bool:
    return hasattr(ref, "manifest") and isinstance(ref.manifest, Manifest)


def _ref_text(ref: object) -> str:
    return ref if isinstance(ref, str) else repr(ref)
