"""The filesystem a materializer writes through: every file it writes hashed on the way, and a
small local one held in memory, to be created in its final place at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .hashing import LOCAL_ONE_SHOT, ONE_SHOT, HashingWriter, write_local_whole

_PASSIVE = frozenset(
    {"exists", "isdir", "isfile", "info", "ls", "find", "glob", "size", "cat", "cat_file", "sep"}
)
"""Filesystem methods that change nothing, so they need no `before_upload` check."""


@dataclass
class RecordingFileSystem:
    """Stands in for an fsspec filesystem during `Materializer.save`, hashing every file written.

    Reads and listings pass through to the real filesystem. `before_upload` runs once before the
    first big upload or any other change made through it (small files are conditional creates,
    which need no check first).
    """

    fs: Any
    exclusive: bool = False
    """Turn every write into a conditional create, so concurrent writers cannot clobber."""
    directories: bool = True
    """The filesystem has real directories. Object stores do not, and their `makedirs` may
    create a bucket, so there it does nothing."""
    progress: Any = None
    """Bar updated with every byte written (anything with `update(n)`)."""
    before_upload: Callable[[], None] = lambda: None
    held_path: str | None = None
    """A local file (opened by the path the materializer was handed) that, written whole within
    `LOCAL_ONE_SHOT` bytes, is held in memory when it closes instead of written: the caller then
    creates it in its final place at once (`place_held`). Any other use of the filesystem before
    that writes it out where it was opened, so the materializer finds it there."""
    written: dict[str, tuple[str, int]] = field(default_factory=dict)
    _checked: bool = False
    _held: tuple[str, bytearray, bool] | None = None
    _spilled: bool = False
    """Something may be at the held path already (a held file written out, or a write that
    bypassed `open`): the held file then goes there too, never beside it at its final place."""

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        self._write_held()
        if "r" in mode and "+" not in mode:
            return self.fs.open(path, mode, **kwargs)
        if mode not in ("wb", "xb"):
            raise ValueError(f"materializers write new files in binary mode, got mode={mode!r}")
        stripped = self.fs._strip_protocol(path)
        exclusive = self.exclusive or mode == "xb"

        def record(hexdigest: str, size: int) -> None:
            self.written[stripped] = (hexdigest, size)

        def hold(body: bytearray) -> None:
            self._held = (stripped, body, exclusive)

        from fsspec.implementations.local import LocalFileSystem

        local = isinstance(self.fs, LocalFileSystem)
        return HashingWriter(
            self.fs, path, record, exclusive=exclusive, progress=self.progress,
            before_upload=self._check_once, one_shot=LOCAL_ONE_SHOT if local else ONE_SHOT,
            hold=hold if local and path == self.held_path else None, **kwargs,
        )  # fmt: skip

    def place_held(self, create: Callable[[bytes | bytearray], bool]) -> bool:
        """Create the held file (see `held_path`) with `create`, in its final place; False, with
        the file written where it was opened, when none is held or `create` declined."""
        if self._held is not None and not self._spilled and create(self._held[1]):
            self._held = None
            return True
        self._write_held()
        return False

    def _write_held(self) -> None:
        if self._held is not None:
            path, body, exclusive = self._held
            self._held = None
            self._spilled = True
            write_local_whole(self.fs, path, body, exclusive)

    def pipe_file(self, path: str, value: bytes, **kwargs: Any) -> None:
        with self.open(path, "wb") as f:
            f.write(value)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        if self.directories:
            self.fs.makedirs(path, exist_ok=exist_ok)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        if self.directories:
            self.fs.mkdir(path, create_parents=create_parents, **kwargs)

    def _check_once(self) -> None:
        if not self._checked:
            self._checked = True
            self.before_upload()

    def __getattr__(self, name: str) -> Any:
        self._write_held()
        if name not in _PASSIVE and not name.startswith("_"):
            self._spilled = True
            self._check_once()  # put_file, copy, touch...: writes that bypass open()
        return getattr(self.fs, name)
