"""flow-artifacts for Prefect 3: Prefect flow runs recorded as runs (through the `ambient`
plugin, for plain `prefect.flow` too), `flow` and `task` (Prefect's, recorded), a cache policy.

Names load on first use: the plugin module `ambient` is imported with every flow_artifacts
plugin host, and must not import Prefect where no flow runs."""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "ARTIFACT_INPUTS": "cache",
    "ArtifactChecksums": "cache",
    "flow": "recording",
    "task": "recording",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
