"""Progress bars for long transfers: shown in interactive terminals, silent otherwise.

A bar appears only once a transfer has moved `THRESHOLD` bytes (or is known to be that large)
and has run for `DELAY_S`, so small artifacts never flash one. `FLOW_ARTIFACTS_PROGRESS=0` (or
`progress=False` on the store) switches bars off; `=1` (or `progress=True`) shows them even when
stderr is not a terminal.
"""

from __future__ import annotations

import os
import sys
from typing import Any

ENV = "FLOW_ARTIFACTS_PROGRESS"
DELAY_S = 1.0
THRESHOLD = 32 << 20


class NoProgress:
    """The do-nothing bar, so callers never check for None."""

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


class _LazyBar:
    """A tqdm bar created only when the bytes counted reach `THRESHOLD`, if bars are on then:
    whether they are (the setting, a terminal on stderr) is looked up only for such transfers,
    never for the many small ones."""

    def __init__(self, description: str, total: int | None, progress: bool | None) -> None:
        self._description = description
        self._total = total
        self._progress = progress
        self._count = 0
        self._bar: Any = None
        self._decided = False

    def update(self, n: int) -> None:
        self._count += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._count >= THRESHOLD and not self._decided:
            self._decided = True
            if not progress_enabled(self._progress):
                return
            from tqdm import tqdm

            self._bar = tqdm(
                total=self._total, initial=self._count, desc=self._description, unit="B",
                unit_scale=True, unit_divisor=1024, delay=DELAY_S, file=sys.stderr, leave=False,
            )  # fmt: skip

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def progress_enabled(progress: bool | None = None) -> bool:
    if progress is not None:
        return progress
    setting = os.environ.get(ENV, "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    if setting in ("1", "true", "yes", "on"):
        return True
    return sys.stderr.isatty()


def progress_bar(description: str, total: int | None = None, progress: bool | None = None) -> Any:
    """A byte-counting bar on stderr, or a `NoProgress` when bars are off or `total` is small."""
    if progress is False or (total is not None and total < THRESHOLD):
        return NoProgress()
    return _LazyBar(description, total, progress)
