"""Progress bars for long transfers: shown in interactive terminals, silent otherwise.

A bar appears only after a transfer has run for `DELAY_S`, so small artifacts never flash one.
`FLOW_ARTIFACTS_PROGRESS=0` (or `progress=False`) switches them off; `=1` forces them on.
"""

from __future__ import annotations

import os
import sys
from typing import Any

ENV = "FLOW_ARTIFACTS_PROGRESS"
DELAY_S = 1.0


class NoProgress:
    """The do-nothing bar, so callers never check for None."""

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


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
    """A byte-counting bar on stderr, or a `NoProgress` when bars are off."""
    if not progress_enabled(progress):
        return NoProgress()
    from tqdm import tqdm

    return tqdm(
        total=total, desc=description, unit="B", unit_scale=True, unit_divisor=1024,
        delay=DELAY_S, file=sys.stderr, leave=False,
    )
