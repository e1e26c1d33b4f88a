"""Checksums computed while bytes are written, so no artifact is ever read back just to hash it."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import Any

from fsspec.spec import AbstractBufferedFile

CHECKSUM_ALGORITHM = "sha256"


def format_checksum(hexdigest: str) -> str:
    return f"{CHECKSUM_ALGORITHM}:{hexdigest}"


def sha256_of(f: Any, chunk_size: int = 8 << 20) -> tuple[str, int]:
    """(hex digest, size) of what remains in file object `f`, read in bounded chunks."""
    digest = hashlib.sha256()
    size = 0
    while chunk := f.read(chunk_size):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def directory_checksum(files: dict[str, tuple[str, int]]) -> str:
    """Checksum of a directory artifact: sha256 over its sorted (relative path, sha256, size)."""
    digest = hashlib.sha256()
    for rel in sorted(files):
        sha, size = files[rel]
        digest.update(f"{rel}\0{sha}\0{size}\n".encode())
    return format_checksum(digest.hexdigest())


class HashingWriter:
    """A write-only file wrapper that hashes and counts what passes through it."""

    def __init__(self, raw: Any, on_close: Any, progress: Any = None) -> None:
        self._raw = raw
        self._on_close = on_close
        self._progress = progress
        self._hash = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._hash.update(view)
        self._raw.write(view)
        self.size += view.nbytes
        if self._progress is not None:
            self._progress.update(view.nbytes)
        return view.nbytes

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._raw.flush()

    def close(self) -> None:
        if self.closed:
            return
        self._raw.close()
        self.closed = True
        self._on_close(self._hash.hexdigest(), self.size)

    def __enter__(self) -> HashingWriter:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def abort(self) -> None:
        """Drop the file without publishing it: fsspec's own close would commit a partial upload.

        Never raises: it runs while another exception propagates, and that one says what failed.
        Local and memory files are closed (the store removes their bytes); buffered uploads
        (s3, gcs, azure) are discarded so that no partial object is committed.
        """
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            if isinstance(self._raw, AbstractBufferedFile):
                self._raw.discard()
                self._raw.closed = True
            else:
                self._raw.close()


@dataclass
class RecordingFileSystem:
    """Stands in for an fsspec filesystem during `Materializer.save`, hashing every file written.

    Everything except `open` for writing is passed through to the real filesystem.
    """

    fs: Any
    exclusive: bool = False
    """Turn every write into a conditional create, so concurrent writers cannot clobber."""
    progress: Any = None
    """Bar updated with every byte written (anything with `update(n)`)."""
    written: dict[str, tuple[str, int]] = field(default_factory=dict)

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if "r" in mode and "+" not in mode:
            return self.fs.open(path, mode, **kwargs)
        if "b" not in mode:
            raise ValueError(f"materializers must write in binary mode, got mode={mode!r}")
        if self.exclusive:
            mode = mode.replace("w", "x")
        stripped = self.fs._strip_protocol(path)

        def record(hexdigest: str, size: int) -> None:
            self.written[stripped] = (hexdigest, size)

        return HashingWriter(self.fs.open(path, mode, **kwargs), record, self.progress)

    def pipe_file(self, path: str, value: bytes, **kwargs: Any) -> None:
        with self.open(path, "wb", **kwargs) as f:
            f.write(value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fs, name)
