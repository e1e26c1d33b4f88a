"""`ArtifactStore`: artifacts as bytes plus a manifest on any fsspec filesystem.

Writes are invisible until complete. Where the filesystem can rename (local disk, memory), bytes go
to a hidden temporary name and are linked into place without overwriting anything; on object stores
each object appears whole on its own. Either way the manifest is written last, and an artifact
exists exactly when its manifest does.
"""

from __future__ import annotations

import contextlib
import errno
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
from fsspec.implementations.memory import MemoryFileSystem

from .errors import (
    ArtifactExists,
    ArtifactNotFound,
    FlowArtifactsError,
    IntegrityError,
    MaterializerError,
    StoreAccessDenied,
    StoreError,
    StoreNotFound,
    StoreUnreachable,
    UnsupportedOperation,
)
from .hashing import RecordingFileSystem, directory_checksum, format_checksum, sha256_of
from .manifest import MANIFEST_SUFFIX, Manifest, runtime_versions
from .materializers.base import Materializer
from .naming import validate_name
from .plugins import PluginHost, default_plugin_host
from .progress import progress_bar
from .redact import redact_url
from .template import PathTemplate

if TYPE_CHECKING:
    from .artifact import Artifact

TEMP_PREFIX = ".tmp-"
READ_CHUNK = 8 << 20


class ArtifactStore:
    """Artifacts on one fsspec URL: `materialize`/`save` to write, `load` to read back.

    `storage_options` go to fsspec as they are and are never written anywhere or shown in `repr()`.
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
        self.url = os.fspath(url)
        self.progress = progress
        """Progress bars for long transfers: None shows them in interactive terminals only."""
        self.plugins = plugins or default_plugin_host()
        self.template = template if isinstance(template, PathTemplate) else PathTemplate(template)
        protocol = fsspec.utils.get_protocol(self.url)
        self.backend = self.plugins.store_backends.for_protocol(protocol)
        self.backend.check_installed(redact_url(self.url))
        try:
            self.fs, root = fsspec.core.url_to_fs(self.url, **storage_options)
        except (ImportError, ValueError, TypeError) as exc:
            raise StoreError(f"cannot open store {redact_url(self.url)}: {exc}") from exc
        self.root = root.rstrip("/")
        self._local = isinstance(self.fs, LocalFileSystem)
        if self._local:
            os.makedirs(self.root, exist_ok=True)

    def __repr__(self) -> str:
        return f"ArtifactStore({redact_url(self.url)!r})"

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
            obj,
            key,
            chosen,
            project=project,
            name=name,
            run_id=run_id,
            step=step_name,
            pipeline=pipeline,
        )
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

        Until `write_manifest` runs, the bytes are an orphan that `gc` may collect.
        """
        data_rel = key + materializer.extension_for(obj)
        data_path = self._abs(data_rel)
        with self._io_errors("writing", key):
            if self.fs.exists(self._abs(key + MANIFEST_SUFFIX)) or self.fs.exists(data_path):
                raise self._exists(key)
            parent = posixpath.dirname(data_path)
            if self.backend.atomic_rename:
                self.fs.makedirs(parent, exist_ok=True)
                target = f"{parent}/{TEMP_PREFIX}{uuid.uuid4().hex}-{posixpath.basename(data_path)}"
            else:
                target = data_path  # objects appear whole; conditional writes keep them single
        bar = progress_bar(f"saving {key}", progress=self.progress)
        recorder = RecordingFileSystem(
            self.fs, exclusive=self.backend.exclusive_create and target == data_path, progress=bar
        )
        try:
            with self._io_errors("writing", key):
                try:
                    metadata = materializer.save(obj, recorder, target)
                    json.dumps(metadata or {}, sort_keys=True)  # as Manifest.to_json will
                except (FlowArtifactsError, OSError):
                    raise
                except Exception as exc:
                    raise MaterializerError(
                        f"materializer {materializer.id!r} failed to save artifact {key!r}: {exc}"
                    ) from exc
                directory = materializer.writes_directory(obj)
                files = self._written_files(recorder, target, directory)
                if target != data_path:
                    self._publish(target, data_path)
        except ArtifactExists:
            if target != data_path:  # on a direct write, the bytes there are the winner's
                self._remove_quietly(target)
            raise
        except BaseException:
            self._remove_quietly(target)
            raise
        finally:
            bar.close()
        if directory:
            checksum = directory_checksum(files)
            file_list = {rel: [sha, size] for rel, (sha, size) in files.items()}
        else:
            sha, _ = files[""]
            checksum, file_list = format_checksum(sha), {}
        return Manifest(
            id=str(uuid.uuid4()),
            key=key,
            data_path=data_rel,
            project=project,
            name=name,
            run_id=run_id,
            step=step,
            pipeline=pipeline,
            materializer=materializer.id,
            materializer_version=materializer.version,
            kind=materializer.kind.value,
            mime_type=materializer.mime_type,
            size=sum(size for _, size in files.values()),
            checksum=checksum,
            created=datetime.now(timezone.utc).isoformat(),
            directory=directory,
            metadata=metadata or {},
            files=file_list,
            libraries={**runtime_versions(), **materializer.library_versions()},
        )

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
                    self._publish(temp, path)
                finally:
                    self._remove_quietly(temp)
            elif self.backend.exclusive_create:
                self.fs.pipe_file(path, body, mode="create")
            else:
                if self.fs.exists(path):
                    raise self._exists(manifest.key)
                self.fs.pipe_file(path, body)

    def sign(self, manifest: Manifest, expires_in: int, *, allow_local: bool = False) -> str:
        """A URL that downloads the artifact's bytes without credentials, for `expires_in` s."""
        path = self._abs(manifest.data_path)
        if manifest.directory:
            raise UnsupportedOperation(f"artifact {manifest.key!r} is a directory: sign its files")
        if self.backend.can_sign:
            with self._io_errors("signing", manifest.key):
                return str(self.fs.sign(path, expiration=int(expires_in)))
        if self._local and allow_local:
            return Path(path).as_uri()
        raise UnsupportedOperation(
            f"{self} cannot make presigned URLs"
            + ("; pass allow_local=True for a file:// URL" if self._local else "")
        )

    def _exists(self, key: str) -> ArtifactExists:
        return ArtifactExists(
            f"artifact {key!r} already exists in {self}; artifacts are written once. "
            "Use a new run_id or name, or delete the old artifact first."
        )

    @contextlib.contextmanager
    def _io_errors(self, operation: str, key: str) -> Iterator[None]:
        """Turn the filesystem's OSErrors into store errors that name the store and artifact."""
        try:
            yield
        except FlowArtifactsError:
            raise
        except FileExistsError as exc:
            raise self._exists(key) from exc
        except PermissionError as exc:
            raise StoreAccessDenied(
                f"{self} denied access while {operation} {key!r}: {exc}. Check the credentials "
                "in storage_options or the environment."
            ) from exc
        except FileNotFoundError as exc:
            if operation == "reading":
                raise ArtifactNotFound(f"the bytes of {key!r} are missing from {self}") from exc
            raise StoreNotFound(
                f"{self} has no bucket or folder for {key!r} ({exc}); create it first"
            ) from exc
        except (ConnectionError, TimeoutError) as exc:
            raise StoreUnreachable(f"{self} did not answer while {operation} {key!r}: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"{self} failed while {operation} {key!r}: {exc}") from exc

    def discard_unpublished(self, manifest: Manifest) -> None:
        """Remove the bytes of an artifact whose manifest was never published."""
        if not self.fs.exists(self._abs(manifest.key + MANIFEST_SUFFIX)):
            self._remove_quietly(self._abs(manifest.data_path))

    # --- reading -------------------------------------------------------------------------------

    def get_manifest(self, ref: str | Artifact) -> Manifest:
        """The manifest of an artifact given by key, data path (relative or full) or handle."""
        for key in self._candidate_keys(ref):
            path = self._abs(key + MANIFEST_SUFFIX)
            try:
                with self._io_errors("reading", key):
                    raw = self.fs.cat_file(path)
            except ArtifactNotFound:
                continue
            return Manifest.from_json(raw, where=path)
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
            if not manifest.directory:
                return format_checksum(self._hash_file(root)[0])
            found = {self._rel_to(p, root): self._hash_file(p) for p in self.fs.find(root)}
        except FileNotFoundError as exc:
            raise IntegrityError(
                f"the bytes of artifact {manifest.key!r} are missing from {self}"
            ) from exc
        return directory_checksum(found)

    def open_stream(self, manifest: Manifest, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
        """Chunks of a single-file artifact, hashed on the way; a mismatch raises at the end."""
        digest = hashlib.sha256()
        with self._io_errors("reading", manifest.key):
            f = self.fs.open(self._abs(manifest.data_path), "rb")
        with f:
            while True:
                with self._io_errors("reading", manifest.key):
                    chunk = f.read(chunk_size)
                if not chunk:
                    break
                digest.update(chunk)
                yield chunk
        if format_checksum(digest.hexdigest()) != manifest.checksum:
            raise IntegrityError(
                f"artifact {manifest.key!r} in {self} is corrupted: streamed bytes do not match "
                f"the recorded checksum {manifest.checksum}"
            )

    def download_directory(self, manifest: Manifest, target: str | os.PathLike[str]) -> None:
        """Copy a directory artifact to local `target`, then check it against its checksum."""
        self.fs.get(self._abs(manifest.data_path) + "/", os.fspath(target), recursive=True)
        local = LocalFileSystem()
        root = local._strip_protocol(os.fspath(target))
        found = {}
        for path in local.find(root):
            with open(path, "rb") as f:
                found[self._rel_to(path, root)] = sha256_of(f, READ_CHUNK)
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
        self.fs.rm_file(self._abs(manifest.key + MANIFEST_SUFFIX))
        self._remove_quietly(self._abs(manifest.data_path))

    def list_artifacts(self, prefix: str = "") -> list[str]:
        """Keys of the artifacts whose key starts with `prefix`, sorted."""
        prefix = prefix.strip("/")
        directory = self._abs(posixpath.dirname(prefix)) if prefix else self.root
        try:
            found = self.fs.find(directory)
        except FileNotFoundError:
            return []
        keys = []
        for path in found:
            if path.endswith(MANIFEST_SUFFIX) and not posixpath.basename(path).startswith(
                TEMP_PREFIX
            ):
                key = self._rel(path)[: -len(MANIFEST_SUFFIX)]
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def inventory(self) -> dict[str, datetime | None]:
        """Every file in the store (relative path -> last modified, when the store says)."""
        with self._io_errors("listing", ""):
            try:
                found = self.fs.find(self.root, detail=True)
            except FileNotFoundError:
                return {}
        return {self._rel(path): _modified(info) for path, info in found.items()}

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
        return self._rel_to(path, self.root)

    @staticmethod
    def _rel_to(path: str, root: str) -> str:
        return path[len(root) :].lstrip("/") if path.startswith(root) else path

    def _candidate_keys(self, ref: str | Artifact) -> list[str]:
        if _is_artifact(ref):
            return [ref.manifest.key]  # type: ignore[union-attr]
        if not isinstance(ref, str) or not ref:
            return []
        rel = ref
        for prefix in (self.full_path(""), self.root):
            if prefix and rel.startswith(prefix + "/"):
                rel = rel[len(prefix) + 1 :]
                break
        rel = rel.strip("/")
        if ".." in rel.split("/"):
            return []
        if rel.endswith(MANIFEST_SUFFIX):
            return [rel[: -len(MANIFEST_SUFFIX)]]
        head, base = posixpath.split(rel)
        candidates = [rel]
        while "." in base:
            base = base.rpartition(".")[0]
            candidates.append(posixpath.join(head, base))
        return candidates

    def _written_files(
        self, recorder: RecordingFileSystem, target: str, directory: bool
    ) -> dict[str, tuple[str, int]]:
        """Hashes of what `save` wrote, from the recorder; files written otherwise are read once."""
        paths = self.fs.find(target) if directory else [target]
        if not paths:
            raise MaterializerError(f"materializer wrote nothing at {target}")
        files = {}
        for path in paths:
            stripped = self.fs._strip_protocol(path)
            known = recorder.written.get(stripped)
            files[self._rel_to(stripped, target)] = known or self._hash_file(stripped)
        return files

    def _hash_file(self, path: str) -> tuple[str, int]:
        if isinstance(self.fs, MemoryFileSystem):
            # Its open() hands every reader the same file object, so hashing through it while a
            # materializer loads (load() verifies in a second thread) interleaves their reads.
            body = self.fs.cat_file(path)
            return hashlib.sha256(body).hexdigest(), len(body)
        with self.fs.open(path, "rb") as f:
            return sha256_of(f, READ_CHUNK)

    def _publish(self, temp: str, final: str) -> None:
        """Move `temp` to `final` without ever replacing an existing `final`."""
        if self._local:
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
                    raise ArtifactExists(f"{self._rel(final)!r} already exists in {self}") from exc
                raise
            return
        if self.fs.exists(final):
            raise ArtifactExists(f"{self._rel(final)!r} already exists in {self}")
        self.fs.mv(temp, final, recursive=True)

    def _remove_quietly(self, path: str) -> None:
        try:
            if self.fs.exists(path):
                self.fs.rm(path, recursive=True)
        except OSError:
            pass


def _modified(info: Mapping[str, Any]) -> datetime | None:
    """Modification time from an fsspec info dict; each backend spells it differently."""
    for field_name in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(field_name)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, timezone.utc)
        if isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


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
