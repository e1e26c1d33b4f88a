"""Reading artifacts from the store: manifests checked before use, bytes verified against them,
paths proven to lie inside the store.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import (
    ArtifactNotFound,
    ConfigError,
    IntegrityError,
    PickleRefused,
    UnsupportedOperation,
)
from ..manifest import MANIFEST_SUFFIX, Manifest
from ..manifest_checks import check_manifest, path_problem
from .failures import Failure, classify
from .paths import files_only, rel_to
from .reading import (
    download_tree,
    load_object,
    read_verified_whole,
    stored_checksum,
    verified_stream,
)
from .store_base import StoreBase, is_artifact
from .transfer import READ_CHUNK, read_record

if TYPE_CHECKING:
    from ..artifact import Artifact


class StoreReads(StoreBase):
    """Manifests, objects, streams and local copies of artifacts, each checked; signed URLs."""

    def get_manifest(self, ref: str | Artifact) -> Manifest:
        """The manifest of an artifact given by key, data path (relative or full) or handle.

        It is read from the store, so it is checked (`check_manifest`) before it is returned.
        """
        for key in self.keys_for(ref):
            path = self._abs(key + MANIFEST_SUFFIX)
            with self._errors.io("reading", key):
                try:
                    raw = read_record(self.fs, path)
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

    def load(self, ref: str | Artifact, *, verify: bool = True) -> Any:
        """Load an artifact's object. With `verify`, its checksum is checked too.

        Pickles are verified before they are loaded; other formats before or while loading
        (see `stores/reading.py`), and the object is discarded if the bytes turn out corrupted.
        A pickle is loaded only through a handle whose manifest a catalog or this process vouches
        for, never from a manifest merely found in the store.
        """
        if is_artifact(ref):
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
        check = self.verify if verify or materializer.uses_pickle else None
        if check is not None and read_verified_whole(materializer, manifest):
            # proven inside the store on the descriptor it is read from: one open, no walk
            inside = self._root_real() if self._local else None
            data = self._checked_path(manifest)
            return load_object(materializer, self.fs, data, manifest, self._errors, check, inside)
        data = self.locate(manifest)
        if manifest.directory:
            self._members(manifest, data)
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
        with self._errors.io("reading", manifest.key):  # missing bytes: ArtifactDataMissing
            return stored_checksum(self.fs, data, manifest)

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
        data = self._checked_path(manifest)
        if self._local and not self._inside_root(data):
            self._unusable(manifest, "its bytes are a symbolic link leading outside the store")
        return data

    def _checked_path(self, manifest: Manifest) -> str:
        """The full path of an artifact's bytes, once its data path is proven to be its key
        plus an extension: `locate` without following links (for a read that proves where
        its descriptor leads)."""
        if problem := path_problem(manifest):
            self._unusable(manifest, problem)
        return self._abs(manifest.data_path)

    def _unusable(self, manifest: Manifest, problem: str) -> NoReturn:
        raise IntegrityError(
            f"artifact {manifest.key!r:.120} in {self} cannot be read or deleted: {problem}. "
            "Its record was edited; restore it or remove it with gc."
        )

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
        return real_path(path).startswith(self._root_real() + os.sep)

    def _root_real(self) -> str:
        if self._real_root is None:
            self._real_root = os.path.realpath(self.root)
        return self._real_root

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
                detail = self._errors.scrub(str(exc))
                raise UnsupportedOperation(
                    f"{self} could not sign artifact {manifest.key!r}: {detail}.{hint}"
                ) from exc
        if self._local and allow_local:
            return Path(path).as_uri()
        raise UnsupportedOperation(
            f"{self} cannot make presigned URLs"
            + ("; pass allow_local=True for a file:// URL" if self._local else "")
        )


def real_path(path: str) -> str:
    """`os.path.realpath(path)`, in four system calls where the kernel says where a descriptor
    leads (Linux's /proc/self/fd): the folder opened as a path-only descriptor and read back,
    the last component looked at once. `realpath` looks at every component of the path in turn.
    """
    folder, _, base = path.rpartition(os.sep)
    if _PATH_ONLY is None or not folder or not base or base in (".", ".."):
        return os.path.realpath(path)
    try:
        fd = os.open(folder, _PATH_ONLY)
    except (OSError, ValueError):  # a missing folder, or not one: the slow way, as before
        return os.path.realpath(path)
    try:
        real_folder = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # no /proc
        return os.path.realpath(path)
    finally:
        os.close(fd)
    if not real_folder.startswith(os.sep):  # not a path ("anon_inode:..."): the slow way
        return os.path.realpath(path)
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            return os.path.realpath(path)
    except FileNotFoundError:
        pass  # as realpath: a missing last component stays as it is
    except OSError:
        return os.path.realpath(path)
    return f"{real_folder.rstrip(os.sep)}{os.sep}{base}"


_PATH_ONLY = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC if hasattr(os, "O_PATH") else None
"""Open flags of a descriptor that names a folder without reading it (Linux only)."""


def _one_chunk(chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield b"".join(chunks)


def _ref_text(ref: object) -> str:
    return ref if isinstance(ref, str) else repr(ref)
