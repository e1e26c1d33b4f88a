"""Reading stored bytes in bounded chunks, as fast as each kind of filesystem allows.

Object stores are read ahead of the consumer, so the network keeps going while the caller hashes
and writes a chunk, yet no more than two chunks are ever in memory:

- filesystems that stream one GET (`open_async`, e.g. s3fs) are read through that single request;
- other async filesystems (gcsfs, adlfs) get ranged GETs, the next one in flight meanwhile;
- synchronous filesystems (local disk) are simply read in order.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from ..limits import MAX_JSON_FILE_BYTES
from .failures import Failure, classify
from .paths import is_local

if TYPE_CHECKING:
    import concurrent.futures

    from fsspec.asyn import AsyncFileSystem

READ_CHUNK = 4 << 20
"""Chunks read ahead of the consumer: a transfer holds a few of them, whatever its size."""


def iter_chunks(
    fs: Any, path: str, size: int | None, chunk_size: int = READ_CHUNK
) -> Generator[bytes, None, None]:
    """The bytes at `path` in pieces of at most `chunk_size` (the last may be shorter).

    `size` is what the manifest recorded; bytes beyond it are still read (not silently cut
    off), so a checksum over the chunks catches a grown object as well as a truncated one. A
    small object is read in one GET of at most `size` + 1 bytes: one past is enough to tell it
    grew, and it is never read whole whatever it grew to.
    """
    from fsspec.implementations.memory import MemoryFileSystem

    if isinstance(fs, MemoryFileSystem):
        # Its open() hands every reader the same file object, so concurrent readers (load()
        # verifies in a second thread) would interleave; the bytes are in memory anyway.
        body = memoryview(fs.cat_file(path))
        for start in range(0, len(body), chunk_size):
            yield bytes(body[start : start + chunk_size])
    elif not getattr(fs, "async_impl", False):  # fsspec.asyn imported only for those that are
        with fs.open(path, "rb") as f:
            while chunk := f.read(chunk_size):
                yield chunk
    elif size is not None and size < chunk_size:
        if head := read_head(fs, path, size + 1):  # one byte more tells a grown object
            yield head
    elif type(fs).open_async is not _async_base().open_async:
        yield from _streamed(fs, path, chunk_size)
    elif size is not None:
        yield from _ranged(fs, path, size, chunk_size)
    else:
        with fs.open(path, "rb", block_size=chunk_size, cache_type="none") as f:
            while chunk := f.read(chunk_size):
                yield chunk


def _async_base() -> type[AsyncFileSystem]:
    from fsspec.asyn import AsyncFileSystem

    return AsyncFileSystem


def open_local(path: str, inside: str | None = None) -> int:
    """A descriptor of the regular file at `path`. Opened without waiting: a named pipe put in
    its place (the store is untrusted) would otherwise block until some writer opened it.

    With `inside` (a folder's real path), the file must lie in that folder once symbolic links
    are resolved, as `os.path.realpath` would say: proven on the descriptor itself (the kernel
    says where it leads), so a link swapped in after the check cannot redirect the read."""
    return _open_regular(path, inside)[0]


def _open_regular(path: str, inside: str | None) -> tuple[int, int]:
    """`open_local`'s descriptor and the file's size when it was opened."""
    fd = os.open(path, _READ_FLAGS) if inside is None else _open_inside(path, inside)
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(
                errno.EINVAL, "not a regular file (a pipe, device or socket is in its place)"
            )
        if inside is not None and not _leads_inside(fd, path, inside):
            raise OSError(errno.EXDEV, "a symbolic link leads outside the store")
    except BaseException:
        os.close(fd)
        raise
    return fd, status.st_size


def _open_inside(path: str, inside: str) -> int:
    """The file at `path` opened without following a link in its last component, so nothing
    outside `inside` is opened through one; a link there (ELOOP) is followed only once its
    target is known to lie inside. Links in the folders above are checked on the descriptor."""
    try:
        return os.open(path, _READ_FLAGS | _NO_FOLLOW)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
    real = os.path.realpath(path)
    if not real.startswith(inside + os.sep):
        raise OSError(errno.EXDEV, "a symbolic link leads outside the store")
    return os.open(real, _READ_FLAGS)


def _leads_inside(fd: int, path: str, inside: str) -> bool:
    """Whether the file open as `fd` lies in the folder `inside`: where the kernel says the
    descriptor leads (Linux's /proc/self/fd), else where `os.path.realpath` says `path` does."""
    try:
        where = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # no /proc
        where = os.path.realpath(path)
    return where.startswith(inside + os.sep)


_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)


def read_record(fs: Any, path: str) -> bytes:
    """A small JSON file of the store (a manifest; a journal, write or identity record), read
    as untrusted input: at most one byte past `MAX_JSON_FILE_BYTES` however large it grew, so a
    planted giant is refused by its length (`parse_json_file`) without being read whole; on
    local disk a pipe in its place is refused, not waited on."""
    limit = MAX_JSON_FILE_BYTES + 1
    if is_local(fs):  # read a chunk at a time: the bound is far above any real record
        return read_local_head(path, limit, READ_CHUNK)
    return read_head(fs, path, limit)


def read_local_head(path: str, count: int, piece: int, inside: str | None = None) -> bytes:
    """At most the first `count` bytes of the local regular file at `path` (`open_local`, with
    `inside`), in reads of at most `piece` bytes until the end or `count`. A read that comes
    back short at the size the file had when opened is its end: no further read asks."""
    fd, size = _open_regular(path, inside)
    try:
        parts, got = [], 0
        while got < count:
            asked = min(piece, count - got)
            part = os.read(fd, asked)
            if not part:
                break
            parts.append(part)
            got += len(part)
            if len(part) < asked and got >= size:
                break
    finally:
        os.close(fd)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def read_head(fs: Any, path: str, count: int) -> bytes:
    """At most the first `count` bytes at `path` on an object store, in one ranged GET (a range
    with both ends keeps s3fs from asking for the size first). An empty object has no
    satisfiable range: its refusal is told apart from a failure by the object's size."""
    try:
        return bytes(fs.cat_file(path, start=0, end=count))
    except Exception as exc:
        if classify(exc) is not Failure.MISSING and fs.size(path) == 0:
            return b""
        raise


def _streamed(fs: Any, path: str, chunk_size: int) -> Iterator[bytes]:
    """One GET, its body read a chunk ahead of the consumer on the filesystem's event loop."""
    import asyncio

    from fsspec.asyn import sync

    stream = sync(fs.loop, fs.open_async, path, "rb")
    pending = asyncio.run_coroutine_threadsafe(_read_up_to(stream, chunk_size), fs.loop)
    try:
        while chunk := pending.result():
            pending = asyncio.run_coroutine_threadsafe(_read_up_to(stream, chunk_size), fs.loop)
            yield chunk
    finally:
        pending.cancel()
        body = getattr(stream, "r", None)  # the HTTP response; release its connection now
        if body is not None and hasattr(body, "close"):
            fs.loop.call_soon_threadsafe(body.close)


async def _read_up_to(stream: Any, size: int) -> bytes:
    """`size` bytes from a stream whose `read(n)` may return fewer; fewer only at the end."""
    parts, got = [], 0
    while got < size:
        part = await stream.read(size - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _ranged(fs: Any, path: str, size: int, chunk_size: int) -> Iterator[bytes]:
    """Ranged GETs of `chunk_size`, the next one requested before the current one is yielded.

    The last range asks for one byte past `size`: a longer object then yields extra bytes.
    """
    import asyncio

    ranges = [(start, min(start + chunk_size, size)) for start in range(0, size, chunk_size)]
    ranges[-1] = (ranges[-1][0], size + 1)

    def fetch(start: int, end: int) -> concurrent.futures.Future[bytes]:
        return asyncio.run_coroutine_threadsafe(fs._cat_file(path, start=start, end=end), fs.loop)

    pending = fetch(*ranges[0])
    try:
        for following in [*ranges[1:], None]:
            chunk = pending.result()
            if following is not None:
                pending = fetch(*following)
            yield chunk
    finally:
        pending.cancel()
