"""A step run as it happened, and how a failure is recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..redact import scrub_cut

if TYPE_CHECKING:
    from ..artifact import Artifact
    from ..stack import Stack

MAX_ERROR_CHARS = 4000


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


def error_text(exc: BaseException | str, stack: Stack | None) -> str:
    """How a failure is recorded: type and message (or a framework's text), secrets masked,
    length bounded."""
    secrets = stack.secrets if stack is not None else ()
    text = exc if isinstance(exc, str) else f"{type(exc).__qualname__}: {exc}"
    return scrub_cut(text, MAX_ERROR_CHARS, secrets)
