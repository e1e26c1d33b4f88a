"""`LocalFile`: a local copy of an artifact that is a `Path` and cleans up after itself.

IVCAP users write `path = art.as_local_file("out.jpg")` and keep the file; others write
`with art.as_local_file() as path:` and expect a temporary copy gone after the block. One type
serves both: a `Path` that is also a context manager. A temporary copy is removed on leaving the
block, or else when the object is garbage collected or the process exits, so no temporary
outlives the process that made it.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    _PathBase = Path
else:
    _PathBase = type(Path())

TEMP_PREFIX = "flow-artifacts-"


class LocalFile(_PathBase):
    """A local path; a temporary one (`LocalFile.temporary`) is deleted on `__exit__`."""

    _cleanup: weakref.finalize | None = None  # paths derived from it (parent, /) own nothing

    @classmethod
    def temporary(cls, name: str) -> LocalFile:
        """`name` inside a new private temporary folder, removed with the returned path."""
        folder = tempfile.mkdtemp(prefix=TEMP_PREFIX)
        path = cls(folder, name)
        path._cleanup = weakref.finalize(path, shutil.rmtree, folder, ignore_errors=True)
        return path

    @property
    def is_temporary(self) -> bool:
        return self._cleanup is not None and self._cleanup.alive

    def cleanup(self) -> None:
        """Remove a temporary copy now (a kept one, given by its caller, stays)."""
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> LocalFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()
