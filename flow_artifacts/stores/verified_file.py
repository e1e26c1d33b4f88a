"""A file a materializer reads whole, read once into memory and verified before it gets a byte.

The bytes checked are the bytes loaded: nothing is read from the store after the check, so a
pickle is never unpickled from bytes that changed after they were hashed. The file is read when
the materializer first asks for it, in the form it asks for: `cat_file` gets `bytes`, as before;
`open` (cloudpickle, numpy) gets a file over memory that, on local disk past `MAPPED_MIN`, was
mapped and filled in pieces, each hashed by a second thread while the next one is read.
"""

from __future__ import annotations

import io
import mmap
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from ..errors import IntegrityError
from ..hashing import algorithm_of, format_checksum, hexdigest_of, new_hash
from ..manifest import Manifest
from .failures import ErrorTranslator
from .paths import is_local
from .transfer import READ_CHUNK, iter_chunks, open_local, read_local_head

MAPPED_MIN = 8 << 20
"""Local files read through `open` from this size on go to fresh anonymous memory, asked for in
huge pages, and are hashed piece by piece in a second thread while the next piece is read: a
52 MB pickle is read and verified in 12 ms, against 19 ms hashed in turn, 42 ms in ordinary
pages populated up front and 47 ms for a plain `read()` (BLAKE3, medians of 11; page faults were
most of the difference). Smaller files are not worth the mapping's and the thread's cost."""
PIECE = 1 << 20
"""What is read, then hashed, at a time: small enough to still be in cache when hashed."""
_HUGE_PAGES = getattr(mmap, "MADV_HUGEPAGE", None)
"""Linux's transparent huge pages: 2 MiB pages, so a 50 MB read faults 25 times, not 12,800.
Where the kernel has them off, the advice is ignored and ordinary pages are faulted in."""


class VerifiedFile:
    """`fs`, except that the file at `path` reads as its verified bytes (read on first use).

    A failure to read or verify is kept and raised again by `settle`, even if the materializer
    caught it; `settle` also verifies a file the materializer never read.
    """

    def __init__(
        self,
        fs: Any,
        path: str,
        manifest: Manifest,
        errors: ErrorTranslator,
        verify: Callable[[Manifest], None],
        inside: str | None = None,
    ) -> None:
        """`inside`: on local disk, the store's real root, which the file is proven to lie in
        when it is opened (`open_local`), so its path needs no check of its own before."""
        self._fs, self._path, self._manifest = fs, path, manifest
        self._errors, self._verify, self._inside = errors, verify, inside
        self._body: bytes | memoryview | None = None
        self._failure: BaseException | None = None

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if path == self._path and mode == "rb":
            body = self._verified(mapped=True)
            return io.BytesIO(body) if isinstance(body, bytes) else MemoryFile(body)
        return self._fs.open(path, mode, **kwargs)

    def cat_file(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        if path == self._path:
            body = self._verified(mapped=False)
            return body[start:end] if isinstance(body, bytes) else bytes(body[start:end])
        return self._fs.cat_file(path, start=start, end=end)

    def settle(self) -> None:
        """Raise the failure the materializer was handed, or verify what it never read."""
        if self._failure is not None:
            raise self._failure
        if self._body is None:
            self._verify(self._manifest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fs, name)

    def _verified(self, mapped: bool) -> bytes | memoryview:
        if self._failure is not None:
            raise self._failure
        if self._body is None:
            try:
                self._body = self._read(mapped)
            except BaseException as exc:
                self._failure = exc
                raise
        return self._body

    def _read(self, mapped: bool) -> bytes | memoryview:
        """All bytes at the path, read once and checked against the manifest's checksum."""
        manifest, size = self._manifest, self._manifest.size
        algorithm = algorithm_of(manifest.checksum)
        local = self._inside is not None or is_local(self._fs)
        body: bytes | memoryview
        try:
            if local and mapped and size >= MAPPED_MIN and os.name == "posix":
                body, hexdigest = _read_mapped(self._path, size, algorithm, self._inside)
            else:
                if local:
                    # the recorded size and one byte more, in one read: a grown file is told by
                    # its length (a buffered file would also ask size, position and terminal)
                    body = read_local_head(self._path, size + 1, size + 1, self._inside)
                else:
                    body = _read_remote(self._fs, self._path, size)
                hexdigest = hexdigest_of(body, algorithm)
        except Exception:
            self._verify(manifest)  # raises what is wrong with the stored bytes (missing, say)
            with self._errors.io("reading", manifest.key):  # else the read's failure, translated
                raise
        if len(body) > size:  # grown: not hashed whole by `verify`, which would read it all
            raise IntegrityError(
                f"artifact {manifest.key!r} in {self._errors.store} is corrupted: it holds more "
                f"than the {size} bytes recorded. Restore it or delete it."
            )
        if len(body) != size or format_checksum(hexdigest, algorithm) != manifest.checksum:
            self._verify(manifest)  # its error names both checksums
            raise IntegrityError(  # the bytes changed again in between
                f"artifact {manifest.key!r} in {self._errors.store} is corrupted: its bytes do "
                f"not match the recorded checksum {manifest.checksum}"
            )
        return body


def _read_remote(fs: Any, path: str, size: int) -> bytes:
    """Up to `size` + 1 bytes at `path` on an object store, never many more whatever the object
    grew to: a small one in one ranged GET, a larger one in chunks until past `size`."""
    if 0 < size < READ_CHUNK:
        return bytes(fs.cat_file(path, start=0, end=size + 1))
    parts, got = [], 0
    chunks = iter_chunks(fs, path, size)
    try:
        for chunk in chunks:
            parts.append(chunk)
            got += len(chunk)
            if got > size:
                break
    finally:
        chunks.close()
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _read_mapped(
    path: str, size: int, algorithm: str, inside: str | None = None
) -> tuple[memoryview, str]:
    """Up to `size` + 1 bytes of the local file at `path` in fresh mapped memory, and their
    digest: each `PIECE` is hashed by another thread (both hashes let go of the GIL) while the
    next is read. Never more than `size` + 1 bytes are held, whatever the file grew to."""
    memory = mmap.mmap(-1, size + 1, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if _HUGE_PAGES is not None:
        memory.madvise(_HUGE_PAGES)
    view = memoryview(memory)
    hashed, got = new_hash(algorithm), 0
    pieces: queue.SimpleQueue[memoryview | None] = queue.SimpleQueue()
    failed: list[BaseException] = []
    hasher = threading.Thread(target=_hash_pieces, args=(hashed, pieces, failed), daemon=True)
    fd = open_local(path, inside)
    try:  # the descriptor is closed however the read ends (a Ctrl-C in `join`, no thread)
        hasher.start()
        try:
            while got <= size and (count := os.readv(fd, [view[got : got + PIECE]])):
                pieces.put(view[got : got + count])
                got += count
        finally:
            pieces.put(None)
            hasher.join()  # before the digest is read, and before the memory can be let go
    finally:
        os.close(fd)
    if failed:  # raised here, as a hash in this thread would: never a digest of a part
        raise failed[0]
    return view[:got], hashed.hexdigest()


def _hash_pieces(
    hashed: Any, pieces: queue.SimpleQueue[memoryview | None], failed: list[BaseException]
) -> None:
    try:
        while (piece := pieces.get()) is not None:
            hashed.update(piece)
    except BaseException as exc:
        failed.append(exc)


class MemoryFile(io.RawIOBase):
    """A read-only file over bytes in memory, copying each read once (`io.BytesIO` would copy
    the whole buffer first, unless it is `bytes`)."""

    def __init__(self, body: memoryview) -> None:
        super().__init__()
        self._body = body
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: len(self._body)}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._at = base + offset
        return self._at

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        taken = self._body[self._at : self._at + target.nbytes]
        target[: taken.nbytes] = taken
        self._at += taken.nbytes
        return taken.nbytes

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._body) if size is None or size < 0 else self._at + size
        taken = bytes(self._body[self._at : end])
        self._at += len(taken)
        return taken

    def readall(self) -> bytes:
        return self.read()

    def readline(self, size: int | None = -1) -> bytes:
        end = len(self._body) if size is None or size < 0 else min(len(self._body), self._at + size)
        start = stop = self._at
        while stop < end:  # looked for a window at a time: the rest may be the whole file
            window = bytes(self._body[stop : min(end, stop + 4096)])
            cut = window.find(b"\n")
            stop += len(window) if cut < 0 else cut + 1
            if cut >= 0:
                break
        self._at = stop
        return bytes(self._body[start:stop])

    def close(self) -> None:
        self._body = memoryview(b"")
        super().close()
