"""A folder artifact downloaded from the page as one zip, streamed.

The folder is first copied to a temporary local folder with `Artifact.download`, which checks
every member against the recorded file list and checksum: so a damaged or tampered folder is an
error before the first byte is sent, never a zip that looks complete. The zip is then written
as it is sent (no seeking, so members carry data descriptors), and the copy is removed when the
stream ends, the client goes away, or the stream is dropped without ever being read.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
import zipfile
from collections.abc import Iterator
from pathlib import Path

from ..artifact import Artifact

CHUNK = 1 << 20


class _Sink:
    """A write-only file that hands on what was written (zipfile needs no more than this)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> Iterator[bytes]:
        parts, self.parts = self.parts, []
        yield from parts


def zip_name(art: Artifact) -> str:
    return f"{art.name}-v{art.version}.zip"


def zip_stream(art: Artifact) -> Iterator[bytes]:
    """The verified copy of folder `art` as zip bytes. The copy is made (and checked) when this
    is called, so its errors raise here; the returned iterator streams and then cleans up, and
    a finalizer removes the copy should the iterator be dropped before it starts (a generator's
    `finally` runs only once it has started)."""
    folder = Path(tempfile.mkdtemp(prefix="flow-artifacts-zip-"))
    try:
        art.download(folder / "data")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    stream = _zipped(folder, sorted(art.manifest.files))
    weakref.finalize(stream, shutil.rmtree, folder, ignore_errors=True)
    return stream


def _zipped(folder: Path, members: list[str]) -> Iterator[bytes]:
    root = folder / "data"
    sink = _Sink()
    try:
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for rel in members:
                with (
                    open(root / rel, "rb") as source,
                    archive.open(rel, "w", force_zip64=True) as out,
                ):
                    while chunk := source.read(CHUNK):
                        out.write(chunk)
                        yield from sink.take()
                yield from sink.take()
        yield from sink.take()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
