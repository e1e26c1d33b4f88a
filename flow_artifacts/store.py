"""`ArtifactStore`: artifacts as bytes plus a manifest on any fsspec filesystem.

Writes are invisible until complete. Where the filesystem can rename (local disk, memory), bytes go
to a hidden temporary name and are linked into place without overwriting anything. On object
stores (S3, GCS, Azure) an object appears whole when its upload completes, and every write is
conditional (if-none-match), so of two writers racing for a key exactly one wins. Either way the
manifest is written last, and an artifact exists exactly when its manifest does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .errors import (
    ArtifactNotFound,
    ConfigError,
    FlowArtifactsError,
    IntegrityError,
    MaterializerError,
    StoreError,
    UnsupportedOperation,
)
from .hashing import RecordingFileSystem, directory_checksum, format_checksum
from .manifest import MANIFEST_SUFFIX, Manifest, runtime_versions
from .materializers.base import Materializer
from .naming import validate_name
from .plugins import PluginHost, default_plugin_host
from .progress import progress_bar
from .redact import redact_url
from .stores.failures import Failure, classify, scrub, secret_values, store_error
from .stores.paths import TEMP_PREFIX, candidate_keys, files_only, link_into_place, modified, rel_to
from .stores.transfer import READ_CHUNK, iter_chunks
from .template import PathTemplate

if TYPE_CHECKING:
    from .artifact import Artifact

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
        **storage_options: Any,
    ) -> None:
        raw_url = os.fspath(url)
        self.url = redact_url(raw_url)
        """The store's URL, without any `user:password@` part, as recorded in the catalog."""
        self.progress = progress
        """Progress bars for long transfers: None shows them in interactive terminals only."""
        self.plugins = plugins or default_plugin_host()
        self.template = template if isinstance(template, PathTemplate) else PathTemplate(template)
        self.backend = self.plugins.store_backends.for_protocol(fsspec.utils.get_protocol(raw_url))
        self._secrets = secret_values(storage_options)
        self.backend.check_installed(self.url)
        if self.backend.buckets:
            storage_options = {"use_listings_cache": False, **storage_options}
        try:
            self.fs, root = fsspec.core.url_to_fs(raw_url, **storage_options)
        except (ImportError, ValueError, TypeError) as exc:
            raise StoreError(scrub(f"cannot open store {self.url}: {exc}", self._secrets)) from exc
        self.root = root.rstrip("/")
        self._local = isinstance(self.fs, LocalFileSystem)
        if self._local:
            os.makedirs(self.root, exist_ok=True)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"

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
    ) -> Artifact:
        """Save `obj` at the templated path for (project, run_id, step_name, name)."""
        key = self.template.render(
            project=project, run_id=run_id, step=step_name, name=name, pipeline=pipeline
        )
        chosen = self.plugins.materializers.choose(
            obj, materializer=materializer, overrides=overrides, allow_pickle=allow_pickle
        )
        manifest = self.write_data(
            obj, key, chosen, project=project, name=name, run_id=run_id, step=step_name,
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
        """Save `obj` at an explicit `path` (no template); `metadata` is kept in the manifest."""
        segments = path.strip("/").split("/")
        for segment in segments:
            validate_name(segment, "path segment")
        chosen = self.plugins.materializers.choose(obj, materializer=materializer)
        manifest = self.write_data(obj, "/".join(segments), chosen, name=segments[-1])
        manifest.user_metadata = dict(metadata or {})
        self._publish_manifest(manifest)
        return self.artifact(manifest)

    def _publish_manifest(self, manifest: Manifest) -> None:
        """`write_manifest`, removing the published bytes if it fails, so the key stays free."""
        try:
            self.write_manifest(manifest)
        except BaseException:
            self.discard_unpublished(manifest)
            raise

    def write_data(
        self,
        obj: Any,
        key: str,
        materializer: Materializer,
        *,
        name: str,
        project: str = "",
        run_id: str = "",
        step: str = "",
        pipeline: str = "default",
    ) -> Manifest:
        """Publish the bytes of `obj` under `key` and return its manifest, not yet written.

        Until `write_manifest` runs, the bytes are an orphan that `gc` may collect. A taken key is
        refused before any byte is sent; where neither renames nor conditional writes protect
        the data path, it is checked too.
        """
        data_rel = key + materializer.extension_for(obj)
        data_path = self._abs(data_rel)
        with self._io_errors("writing", key):
            unprotected = not (self.backend.atomic_rename or self.backend.exclusive_create)
            if self.fs.exists(self._abs(key + MANIFEST_SUFFIX)) or (
                unprotected and self.fs.exists(data_path)
            ):
                raise self._error(Failure.EXISTS, "writing", key)
            target = data_path  # objects appear whole; conditional writes keep them single
            if self.backend.atomic_rename:
                parent = posixpath.dirname(data_path)
                self.fs.makedirs(parent, exist_ok=True)
                target = f"{parent}/{TEMP_PREFIX}{uuid.uuid4().hex}-{posixpath.basename(data_path)}"
        bar = progress_bar(f"uploading {key}", progress=self.progress)
        recorder = RecordingFileSystem(
            self.fs,
            exclusive=self.backend.exclusive_create and target == data_path,
            directories=not self.backend.buckets,
            progress=bar,
        )
        try:
            with self._io_errors("writing", key):
                metadata = self._save_with(materializer, obj, recorder, target, key)
                directory = materializer.writes_directory(obj)
                files = self._written_files(recorder, target, directory)
                if target != data_path and self._local:
                    link_into_place(target, data_path)
                elif target != data_path:
                    self._move(target, data_path)
        except BaseException as exc:
            if target != data_path or classify(exc) is not Failure.EXISTS:
                self._remove_quietly(target)  # on a lost race the bytes there are the winner's
            raise
        finally:
            bar.close()
        if directory:
            checksum = directory_checksum(files)
            file_list = {rel: [sha, size] for rel, (sha, size) in files.items()}
        else:
            checksum, file_list = format_checksum(files[""][0]), {}
        return Manifest(
            id=str(uuid.uuid4()), key=key, data_path=data_rel, project=project, name=name,
            run_id=run_id, step=step, pipeline=pipeline, materializer=materializer.id,
            materializer_version=materializer.version, kind=materializer.kind.value,
            mime_type=materializer.mime_type, size=sum(size for _, size in files.values()),
            checksum=checksum, created=datetime.now(timezone.utc).isoformat(),
            directory=directory, metadata=metadata or {}, files=file_list,
            libraries={**runtime_versions(), **materializer.library_versions()},
        )  # fmt: skip

    def _save_with(
        self, materializer: Materializer, obj: Any, fs: RecordingFileSystem, target: str, key: str
    ) -> dict[str, Any]:
        try:
            metadata = materializer.save(obj, fs, target)
            json.dumps(metadata or {}, sort_keys=True)  # as Manifest.to_json will
        except (FlowArtifactsError, OSError):
            raise
        except Exception as exc:
            if classify(exc) is not None:
                raise  # a storage failure that the SDK wrapped (adlfs: RuntimeError)
            raise MaterializerError(
                f"materializer {materializer.id!r} failed to save artifact {key!r}: {exc}"
            ) from exc
        return metadata

    def write_manifest(self, manifest: Manifest) -> None:
        """Make the artifact visible. Fails with `ArtifactExists` rather than overwrite."""
        path = self._abs(manifest.key + MANIFEST_SUFFIX)
        body = manifest.to_json()
        with self._io_errors("publishing", manifest.key):
            if self._local:
                temp = f"{posixpath.dirname(path)}/{TEMP_PREFIX}{uuid.uuid4().hex}.json"
                with open(temp, "wb") as f:
                    f.write(body)
                try:
                    link_into_place(temp, path)
                finally:
                    self._remove_quietly(temp)
            elif self.backend.exclusive_create:
                self.fs.pipe_file(path, body, mode="create")
            else:
                if self.fs.exists(path):
                    raise self._error(Failure.EXISTS, "publishing", manifest.key)
                self.fs.pipe_file(path, body)

    def discard_unpublished(self, manifest: Manifest) -> None:
        """Remove the bytes of an artifact whose manifest was not published.

        When another writer's manifest took the key, our bytes are removed only if they are not
        where that manifest points (a conditional write never let us replace them there).
        """
        try:
            published = self.get_manifest(manifest.key)
        except FlowArtifactsError:
            published = None
        if published is None or (
            published.id != manifest.id and published.data_path != manifest.data_path
        ):
            self._remove_quietly(self._abs(manifest.data_path))

    def sign(
        self, manifest: Manifest, expires_in: int, *, allow_local: bool = False, **options: Any
    ) -> str:
        """A URL that downloads the artifact's bytes without credentials for `expires_in` s;
        `options` go to the filesystem's `sign()` (e.g. `credentials=` on GCS)."""
        if manifest.directory:
            raise UnsupportedOperation(f"artifact {manifest.key!r} is a directory: sign its files")
        if expires_in <= 0:
            raise ConfigError(f"expires_in must be a positive number of seconds, not {expires_in}")
        path = self._abs(manifest.data_path)
        if self.backend.can_sign:
            try:
                with self._io_errors("signing", manifest.key):
                    return str(self.fs.sign(path, expiration=int(expires_in), **options))
            except (AttributeError, NotImplementedError, TypeError, ValueError) as exc:
                hint = f" {self.backend.sign_hint}" if self.backend.sign_hint else ""
                detail = scrub(str(exc), self._secrets)
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
        """The manifest of an artifact given by key, data path (relative or full) or handle."""
        for key in self._candidate_keys(ref):
            path = self._abs(key + MANIFEST_SUFFIX)
            with self._io_errors("reading", key):
                try:
                    raw = self.fs.cat_file(path)
                except Exception as exc:
                    if classify(exc) is Failure.MISSING:
                        continue
                    raise
            return Manifest.from_json(raw, where=path)
        if self._root_missing():
            raise self._error(Failure.MISSING, "reading", _ref_text(ref))
        raise ArtifactNotFound(
            f"no artifact at {_ref_text(ref)!r} in {self}; list them with store.list_artifacts()"
        )

    def artifact(self, ref: str | Manifest) -> Artifact:
        from .artifact import Artifact

        manifest = ref if isinstance(ref, Manifest) else self.get_manifest(ref)
        return Artifact(manifest, store=self)

    def load(self, ref: str | Artifact, *, verify: bool = True) -> Any:
        """Load an artifact's object. With `verify`, its checksum is checked too.

        Pickles are verified before they are loaded; other formats are verified while loading, in
        a second thread, and the object is discarded if the bytes turn out corrupted.
        """
        manifest = ref.manifest if _is_artifact(ref) else self.get_manifest(ref)  # type: ignore[union-attr]
        materializer = self.plugins.materializers.get(manifest.materializer)
        if materializer.uses_pickle:  # always verified: loading runs code from the bytes
            self.verify(manifest)
            return self._load_with(materializer, manifest)
        if not verify:
            return self._load_with(materializer, manifest)
        outcome: list[BaseException | None] = []
        checker = threading.Thread(target=lambda: outcome.append(_capture(self.verify, manifest)))
        checker.start()
        try:
            obj = self._load_with(materializer, manifest)
        except BaseException:
            checker.join()
            if outcome[0] is not None:  # corrupted bytes explain the failure better
                raise outcome[0] from None
            raise
        checker.join()
        if outcome[0] is not None:
            raise outcome[0]
        return obj

    def _load_with(self, materializer: Materializer, manifest: Manifest) -> Any:
        with self._io_errors("reading", manifest.key):
            try:
                return materializer.load(self.fs, self._abs(manifest.data_path), manifest.metadata)
            except (FlowArtifactsError, OSError):
                raise
            except Exception as exc:
                if classify(exc) is not None:
                    raise
                raise MaterializerError(
                    f"materializer {materializer.id!r} failed to load artifact "
                    f"{manifest.key!r}: {exc}"
                ) from exc

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
        root = self._abs(manifest.data_path)
        try:
            with self._io_errors("reading", manifest.key):
                if not manifest.directory:
                    return format_checksum(self._hash(root, manifest.size)[0])
                sizes = {rel: entry[1] for rel, entry in manifest.files.items()}
                found = {}
                for path in files_only(self.fs.find(root, detail=True)):
                    rel = rel_to(path, root)
                    found[rel] = self._hash(path, sizes.get(rel))
        except ArtifactNotFound as exc:
            raise IntegrityError(
                f"the bytes of artifact {manifest.key!r} are missing from {self}"
            ) from exc
        return directory_checksum(found)

    def open_stream(self, manifest: Manifest, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
        """Chunks of a single-file artifact, hashed on the way; a mismatch raises at the end.

        At most two chunks are in memory: the one yielded and the one being fetched.
        """
        digest = hashlib.sha256()
        chunks = iter_chunks(self.fs, self._abs(manifest.data_path), manifest.size, chunk_size)
        try:
            while True:
                with self._io_errors("reading", manifest.key):
                    chunk = next(chunks, None)
                if chunk is None:
                    break
                digest.update(chunk)
                yield chunk
        finally:
            chunks.close()
        if format_checksum(digest.hexdigest()) != manifest.checksum:
            raise IntegrityError(
                f"artifact {manifest.key!r} in {self} is corrupted: streamed bytes do not match "
                f"the recorded checksum {manifest.checksum}"
            )

    def download_directory(self, manifest: Manifest, target: str | os.PathLike[str]) -> None:
        """Copy a directory artifact to local `target`, then check it against its checksum."""
        with self._io_errors("reading", manifest.key):
            self.fs.get(self._abs(manifest.data_path) + "/", os.fspath(target), recursive=True)
        local = LocalFileSystem()
        root = local._strip_protocol(os.fspath(target))
        found = {}
        for path in local.find(root):
            found[rel_to(path, root)] = _digest(iter_chunks(local, path, None))
        if directory_checksum(found) != manifest.checksum:
            raise IntegrityError(f"artifact {manifest.key!r} in {self} is corrupted")

    # --- management ----------------------------------------------------------------------------

    def exists(self, ref: str | Artifact) -> bool:
        try:
            self.get_manifest(ref)
        except ArtifactNotFound:
            return False
        return True

    def get_metadata(self, ref: str | Artifact) -> dict[str, Any]:
        """The whole manifest as a dict: format metadata, checksum, size, identity, versions."""
        return self.get_manifest(ref).to_dict()

    def size(self, ref: str | Artifact) -> int:
        return self.get_manifest(ref).size

    def delete(self, ref: str | Artifact) -> None:
        """Remove an artifact: its manifest first, so it is never half visible, then its bytes."""
        manifest = self.get_manifest(ref)
        with self._io_errors("deleting", manifest.key):
            self.fs.rm_file(self._abs(manifest.key + MANIFEST_SUFFIX))
        self._remove_quietly(self._abs(manifest.data_path))

    def list_artifacts(self, prefix: str = "") -> list[str]:
        """Keys of the artifacts whose key starts with `prefix`, sorted."""
        prefix = prefix.strip("/")
        directory = self._abs(posixpath.dirname(prefix)) if prefix else self.root
        keys = []
        for path in self._find(directory, prefix or "*"):
            if path.endswith(MANIFEST_SUFFIX) and not posixpath.basename(path).startswith(
                TEMP_PREFIX
            ):
                key = self._rel(path)[: -len(MANIFEST_SUFFIX)]
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def inventory(self) -> dict[str, datetime | None]:
        """Every file in the store (relative path -> last modified, when the store says)."""
        return {self._rel(path): modified(info) for path, info in self._find(self.root, "*").items()}

    def remove_paths(self, rels: list[str]) -> None:
        """Delete store-relative paths (maintenance); missing ones are fine."""
        for rel in rels:
            self._remove_quietly(self._abs(rel))

    def full_path(self, rel: str) -> str:
        """A path users can show and open: plain on local disk, with the protocol elsewhere."""
        path = self._abs(rel)
        return path if self._local else self.fs.unstrip_protocol(path)

    # --- internals -----------------------------------------------------------------------------

    def _abs(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def _rel(self, path: str) -> str:
        return rel_to(path, self.root)

    def _candidate_keys(self, ref: str | Artifact) -> list[str]:
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
        because the bucket (or root folder) itself is missing."""
        with self._io_errors("listing", what):
            try:
                return files_only(self.fs.find(path, detail=True))
            except Exception as exc:
                if classify(exc) is not Failure.MISSING or self._root_missing():
                    raise
        return {}

    def _written_files(
        self, recorder: RecordingFileSystem, target: str, directory: bool
    ) -> dict[str, tuple[str, int]]:
        """Hashes of what `save` wrote, from the recorder; files written otherwise are read once."""
        paths = list(files_only(self.fs.find(target, detail=True))) if directory else [target]
        if not paths:
            raise MaterializerError(f"materializer wrote nothing at {target}")
        files = {}
        for path in paths:
            stripped = self.fs._strip_protocol(path)
            known = recorder.written.get(stripped)
            files[rel_to(stripped, target)] = known or self._hash(stripped, None)
        return files

    def _hash(self, path: str, size: int | None) -> tuple[str, int]:
        return _digest(iter_chunks(self.fs, path, size))

    def _move(self, temp: str, final: str) -> None:
        """Publish on a renaming filesystem other than local disk (memory)."""
        if self.fs.exists(final):
            raise FileExistsError(final)
        self.fs.mv(temp, final, recursive=True)

    def _remove_quietly(self, path: str) -> None:
        with contextlib.suppress(Exception):
            self.fs.rm(path, recursive=True)

    def _root_missing(self) -> bool:
        """Whether the bucket (object stores) or root folder (local disk) is gone."""
        if not (self.backend.buckets or self._local):
            return False
        root = self.root.split("/", 1)[0] if self.backend.buckets else self.root
        try:
            return not self.fs.exists(root)
        except Exception:  # unsure, e.g. not allowed to look: not "missing"
            return False

    def _error(
        self, failure: Failure, operation: str, key: str, exc: Exception | None = None
    ) -> FlowArtifactsError:
        return store_error(
            failure,
            store=str(self),
            operation=operation,
            key=key,
            detail=scrub(str(exc), self._secrets) if exc is not None else "",
            root_missing=failure is Failure.MISSING and self._root_missing(),
        )

    @contextlib.contextmanager
    def _io_errors(self, operation: str, key: str) -> Iterator[None]:
        """Turn the filesystem's errors into store errors that name the store and artifact."""
        try:
            yield
        except FlowArtifactsError:
            raise
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            raise self._error(failure, operation, key, exc) from exc


def _digest(chunks: Iterator[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _is_artifact(ref: object) -> bool:
    return hasattr(ref, "manifest") and isinstance(ref.manifest, Manifest)


def _ref_text(ref: object) -> str:
    return ref if isinstance(ref, str) else repr(ref)


def _capture(func: Callable[..., Any], *args: Any) -> BaseException | None:
    try:
        func(*args)
    except BaseException as exc:  # handed to the caller's thread, re-raised there
        return exc
    return None
