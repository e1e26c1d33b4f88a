"""The process's one lease keeper: a daemon thread that renews every pending write's record.

A write costs no thread of its own to start and join; the keeper renews each write in flight
every quarter of its lease, until the write ends or `renew` says it must not be renewed again.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .leases import PendingWrite


class _LeaseKeeper:
    """One daemon thread per process that renews every write in flight, each every quarter of
    its lease: a write costs no thread of its own to start and join."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._due: dict[PendingWrite, float] = {}
        """Each write in flight -> monotonic time of its next renewal."""
        self._wakes = 0.0
        """Monotonic time the thread sleeps until: a write due later needs no wake-up (waking
        the thread costs a write more than the rest of starting its lease)."""
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="flow-artifacts-leases", daemon=True)
        self._thread.start()

    def add(self, write: PendingWrite) -> None:
        with self._changed:
            due = self._due[write] = time.monotonic() + write.lease_seconds / 4
            if due < self._wakes:
                self._changed.notify()

    def discard(self, write: PendingWrite) -> None:
        with self._changed:
            self._due.pop(write, None)

    def _run(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                due = [w for w, at in self._due.items() if at <= now]
                if not due:
                    self._wakes = min(self._due.values(), default=now + 60.0)
                    self._changed.wait(self._wakes - now)
                    continue
                for write in due:
                    self._due[write] = now + write.lease_seconds / 4
            for write in due:  # outside the lock: a slow store must not hold up `add`
                if not write.renew():
                    self.discard(write)


_keeper_lock = threading.Lock()
_the_keeper: _LeaseKeeper | None = None


def keeper() -> _LeaseKeeper:
    """The process's lease keeper, started on first use (and again in a forked child, which
    inherits no threads)."""
    global _the_keeper
    keeper = _the_keeper
    if keeper is None or keeper.pid != os.getpid():
        with _keeper_lock:
            if _the_keeper is None or _the_keeper.pid != os.getpid():
                _the_keeper = _LeaseKeeper()
            keeper = _the_keeper
    return keeper
