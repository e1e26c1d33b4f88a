"""Large files uploaded to S3 in parts, several parts in flight at once, in bounded memory.

s3fs's own file object uploads one part at a time, so a big artifact waits on each part's round
trip in turn. Here every full part is handed to the filesystem's event loop and the writer goes on
filling the next one. At most `CONCURRENCY` parts are in flight, so memory stays near
2 x `CONCURRENCY` + 1 parts whatever the file's size (the HTTP client copies each part it sends).
The object appears when the upload completes (a conditional create where asked), or not at all:
a failed or discarded upload is aborted, and one a killed writer left is listed and aborted by gc
(`stores/uploads.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from fsspec.spec import AbstractBufferedFile

PART_SIZE = 8 << 20
"""Parts of the filesystem's block size (s3fs: `default_block_size`), but no larger than this."""
MIN_PART_SIZE = 5 << 20
"""Nor smaller than this: S3 refuses to complete an upload with a smaller part but the last."""
CONCURRENCY = 6
"""Parts uploading at once (or s3fs's `max_concurrency`, if that is lower)."""
GROW_EVERY = 1000
"""The part size doubles after this many parts, so a stream of unknown length fits S3's 10,000
parts (from 8 MiB, they reach S3's 5 TiB limit) while files up to 8 GiB keep the smallest."""


class PartsFileSystem:
    """An S3 filesystem whose files opened for writing upload their parts concurrently."""

    def __init__(self, fs: Any) -> None:
        self._fs = fs

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if mode not in ("wb", "xb") or set(kwargs) - {"block_size"}:
            return self._fs.open(path, mode, **kwargs)
        fs = self._fs
        size = min(int(kwargs.get("block_size") or fs.default_block_size), PART_SIZE)
        size = max(size, MIN_PART_SIZE)
        concurrency = min(getattr(fs, "max_concurrency", CONCURRENCY), CONCURRENCY)
        return ConcurrentUpload(fs, fs._strip_protocol(path), mode, size, concurrency)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fs, name)


class ConcurrentUpload(AbstractBufferedFile):
    """A file written to S3: one PUT if it fits in one part, else a multipart upload whose parts
    go up concurrently. `discard` aborts the upload; so does any failure to upload or complete.

    Bytes are gathered in one reused buffer of a part's size, and each full part is copied out
    of it as `bytes` (the HTTP client would copy a `bytearray` again). Being an fsspec buffered
    file tells callers to `discard` it, not close it, to drop it: closing publishes.
    """

    closed: bool

    def __init__(self, fs: Any, path: str, mode: str, part_size: int, concurrency: int) -> None:
        super().__init__(fs, path, mode, block_size=part_size)
        self.bucket, self.key, _ = fs.split_path(path)
        self._match = {"IfNoneMatch": "*"} if "x" in mode else {}
        self._base = part_size
        self._concurrency = max(1, concurrency)
        self._part = bytearray(part_size)
        self._filled = 0
        self._upload_id: str | None = None
        self._in_flight: set[Future[tuple[int, str]]] = set()
        self._running: set[asyncio.Task[Any]] = set()
        """The part uploads under way, as tasks of the event loop (only it touches this set)."""
        self._etags: dict[int, str] = {}

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        view = memoryview(data).cast("B")
        size = view.nbytes
        try:
            while view.nbytes:
                take = min(len(self._part) - self._filled, view.nbytes)
                self._part[self._filled : self._filled + take] = view[:take]
                self._filled += take
                view = view[take:]
                if self._filled == len(self._part):
                    self._send()
        except BaseException:
            self.discard()
            raise
        self.loc += size
        return size

    def flush(self, force: bool = False) -> None:
        """Nothing: full parts are already on their way, and the last one goes at `close`."""

    def close(self) -> None:
        """Publish: the whole file in one PUT, or the last part and then the upload completed."""
        if self.closed:
            return
        try:
            if self._upload_id is None:
                body = bytes(memoryview(self._part)[: self._filled])
                self._call("put_object", Body=body, **self._match)
            else:
                if self._filled:
                    self._send()
                self._complete()
        except BaseException:
            self.discard()
            raise
        finally:
            self._part, self.closed = bytearray(), True

    def __del__(self) -> None:
        """A file dropped without `close` was abandoned: its upload is aborted, never completed
        (as an fsspec buffered file's would be). The last reference may go on the event loop (a
        part finishing), which must not wait for itself, so the abort is only started."""
        upload, self._upload_id = self._upload_id, None
        if not self.closed and upload is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._abort(upload), self.fs.loop)
        self.closed = True

    def _call(self, method: str, **kwargs: Any) -> Any:
        return self.fs.call_s3(method, Bucket=self.bucket, Key=self.key, **kwargs)

    def _send(self) -> None:
        """Start uploading the part gathered so far, once fewer than the allowed number are in
        flight; then gather the next one."""
        if self._upload_id is None:
            self._upload_id = self._call("create_multipart_upload")["UploadId"]
        while len(self._in_flight) >= self._concurrency:
            self._collect(wait(self._in_flight, return_when=FIRST_COMPLETED).done)
        number = len(self._etags) + len(self._in_flight) + 1
        part = bytes(memoryview(self._part)[: self._filled])
        self._in_flight.add(
            asyncio.run_coroutine_threadsafe(self._upload_part(number, part), self.fs.loop)
        )
        self.blocksize = self._base << (number // GROW_EVERY)
        if self.blocksize != len(self._part):
            self._part = bytearray(self.blocksize)
        self._filled = 0

    async def _upload_part(self, number: int, part: bytes) -> tuple[int, str]:
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            out = await self.fs._call_s3(
                "upload_part", Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                PartNumber=number, Body=part,
            )  # fmt: skip
        finally:
            self._running.discard(task)
        return number, out["ETag"]

    def _collect(self, done: set[Future[tuple[int, str]]]) -> None:
        for future in done:
            self._in_flight.discard(future)
            number, etag = future.result()  # a failed part raises here
            self._etags[number] = etag

    def _complete(self) -> None:
        self._collect(wait(self._in_flight).done)
        parts = [{"PartNumber": n, "ETag": self._etags[n]} for n in sorted(self._etags)]
        self._call(
            "complete_multipart_upload", UploadId=self._upload_id,
            MultipartUpload={"Parts": parts}, **self._match,
        )  # fmt: skip
        self._upload_id = None

    def discard(self) -> None:
        """Stop the parts in flight, then abort the upload, so that nothing appears and no part
        lands after the abort. Never raises: if the store cannot be reached, the write's record
        cannot be released either, and gc aborts the upload once that record expires."""
        from fsspec.asyn import sync

        self._in_flight.clear()
        upload, self._upload_id = self._upload_id, None
        if upload is not None:
            with contextlib.suppress(Exception):
                sync(self.fs.loop, self._abort, upload)
        self._part, self.closed = bytearray(), True

    async def _abort(self, upload: str) -> None:
        running = list(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await self.fs._call_s3(
            "abort_multipart_upload", Bucket=self.bucket, Key=self.key, UploadId=upload
        )
