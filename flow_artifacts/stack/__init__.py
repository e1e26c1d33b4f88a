"""Stacks: one store and one catalog with their settings, read from a stack file or built in code.

`stack.py` holds `Stack` and which stack is active; `file.py` reads and checks a stack file (with
`schema.py` for its shape, `strict_yaml.py` and `envvars.py` for reading it); `discovery.py` finds
`flow_artifacts.yaml` and decides whether to trust it. Names load on first use, so reading a stack
file does not import SQLAlchemy or a cloud SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["Stack", "StackLike", "get_stack", "resolve_stack", "use_stack"]

if TYPE_CHECKING:
    from .stack import Stack, StackLike, get_stack, resolve_stack, use_stack


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(".stack", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
