"""A hostile pickle's payload for the tests that must prove no stored pickle runs unchecked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class Payload:
    """Unpickling this creates the file `marker`: proof that code from the bytes ran."""

    def __init__(self, marker: str | os.PathLike[str]) -> None:
        self.marker = Path(marker)

    def __reduce__(self) -> Any:
        return (Path.touch, (self.marker,))
