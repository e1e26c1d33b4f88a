"""Small local files that appear whole or not at all, with no temporary name to clean up.

On Linux a file can be written before it has a name (`O_TMPFILE`) and then linked into place,
which fails rather than replace a file already there. A process killed before the link leaves
nothing behind, and the publish costs one create and one link: no staged temporary to unlink,
no `stat` to check it is gone. Where the kernel, the filesystem or `/proc` lacks this,
`create_whole` says so and the caller stages a named temporary instead.
"""

from __future__ import annotations

import errno
import os
import threading

_UNSUPPORTED = frozenset({errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOSYS})
"""What opening an unnamed file answers where the filesystem or kernel has none."""

_proc_lock = threading.Lock()
_proc: int | None = None
"""A descriptor of `/proc` (its `self/fd/N` names this process's unnamed file at link time,
also in a forked child); -1 when there is none."""


def create_whole(path: str, body: bytes | bytearray) -> bool:
    """Create local `path` holding `body`, whole: written unnamed, then linked into place.

    Raises `FileExistsError` when `path` is taken and `FileNotFoundError` when its folder is
    missing; False, having created nothing, where unnamed files are not available.
    """
    proc = _proc_fd()
    if proc < 0:
        return False
    try:
        fd = os.open(os.path.dirname(path) or ".", os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            return False
        raise
    try:
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view) :]
        try:
            # through /proc, linkat follows the link to the open file (no privilege needed)
            os.link(f"self/fd/{fd}", path, src_dir_fd=proc, follow_symlinks=True)
        except OSError as exc:
            if exc.errno == errno.EEXIST or not os.path.isdir(os.path.dirname(path) or "."):
                raise
            return False  # /proc refused: nothing was created, stage a named file instead
    finally:
        os.close(fd)
    return True


def _proc_fd() -> int:
    global _proc
    if _proc is None:
        with _proc_lock:
            if _proc is None:
                if not hasattr(os, "O_TMPFILE"):
                    _proc = -1
                else:
                    try:
                        _proc = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                    except OSError:
                        _proc = -1
    return _proc
