"""A step run as it happened, and how a failure is recorded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..failures import MAX_ERROR_CHARS
from ..failures import error_text as failure_text
from ..redact import scrub_cut, secret_values

if TYPE_CHECKING:
    from ..artifact import Artifact
    from ..stack import Stack


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(eq=False)
class StepRun:
    """One call of a step within a run, as it happened."""

    name: str
    """Unique within the run: the step's name, then `<name>_2`, `<name>_3` for later calls."""
    step: str
    started: datetime
    params: dict[str, Any]
    inputs: list[Artifact]
    cache_key: str | None = None
    id: str = ""
    status: str = "running"
    ended: datetime | None = None
    cached: bool = False
    error: str | None = None
    outputs: dict[str, Artifact] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end; None while running."""
        return None if self.ended is None else (self.ended - self.started).total_seconds()


def error_text(
    exc: BaseException | str,
    stack: Stack | None,
    *,
    with_traceback: bool = False,
    arguments: Mapping[str, Any] | None = None,
) -> str:
    """How a failure is recorded: type and message (or a framework's text), and for a step its
    traceback, length bounded (failures.py), with the stack's secrets masked and those of the
    step's `arguments` (values of secret-named parameters, URL passwords): a chained exception's
    message may be such a value."""
    secrets = (*(stack.secrets if stack is not None else ()), *secret_values(arguments or {}))
    if isinstance(exc, str):
        return scrub_cut(exc, MAX_ERROR_CHARS, secrets)
    return failure_text(exc, secrets, with_traceback=with_traceback)
