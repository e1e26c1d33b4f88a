"""`LocalFile`: a local copy of an artifact that is a `Path` and cleans up after itself.

IVCAP users write `path = art.as_local_file("out.jpg")` and keep the file; others write
`with art.as_local_file() as path:` and expect a temporary copy gone after the block. One type
serves both: a `Path` that is also a context manager. A temporary copy is removed on leaving the
block, or else when the process exits, so no temporary outlives the process that made it. (Not
when the object is garbage collected: `fa.load(ref) / "data.csv"` drops it at once, and the
derived path must still work.)
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    _PathBase = Path
else:
    _PathBase = type(Path())

TEMP_PREFIX = "flow-artifacts-"
_pending: set[str] = set()
"""Temporary folders of this process not yet removed: what exit removes."""
_lock = threading.Lock()


class LocalFile(_PathBase):
    """A local path; a temporary one (`LocalFile.temporary`) is deleted on `__exit__`."""

    _temp_folder: str | None = None  # paths derived from it (parent, /) own nothing

    @classmethod
    def temporary(cls, name: str) -> LocalFile:
        """`name` inside a new private temporary folder, removed by `cleanup` or at exit."""
        folder = tempfile.mkdtemp(prefix=TEMP_PREFIX)
        with _lock:
            _pending.add(folder)
        path = cls(folder, name)
        path._temp_folder = folder
        return path

    def cleanup(self) -> None:
        """Remove a temporary copy now (a kept one, given by its caller, stays)."""
        if self._temp_folder is not None:
            _remove(self._temp_folder)

    def __enter__(self) -> LocalFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()


def _remove(folder: str) -> None:
    with _lock:
        _pending.discard(folder)
    shutil.rmtree(folder, ignore_errors=True)


@atexit.register
def _remove_all() -> None:
    for folder in list(_pending):
        _remove(folder)
