"""The top-level functions: `fa.materialize`, `fa.load`, `fa.explain`, on the active stack."""

from __future__ import annotations

from typing import Any

from .artifact import Artifact
from .materializers.registry import Explanation
from .stack import get_stack


def materialize(
    obj: Any,
    name: str,
    run_id: str,
    step_name: str,
    project: str = "default",
    **options: Any,
) -> Artifact:
    """Save `obj` as artifact `name` of step `step_name` in run `run_id`; return its handle."""
    return get_stack().materialize(obj, name, run_id, step_name, project, **options)


def load(ref: Artifact | str, **options: Any) -> Any:
    """Load an artifact's object from a handle or a reference."""
    if isinstance(ref, Artifact):
        return ref.load(**options)
    return get_stack().load(ref, **options)


def explain(obj: Any, **options: Any) -> Explanation:
    """Which materializer would save `obj`, and why."""
    return get_stack().explain(obj, **options)
