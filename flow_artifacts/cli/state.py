"""What every command is handed: the options before the command, and the stack they name."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ArtifactNotFound, ConfigError

if TYPE_CHECKING:
    from ..stack import Stack


NOTHING_HERE = (
    "no stack here: no --stack, no FLOW_ARTIFACTS_STACK, no flow_artifacts.yaml in this folder "
    "or its parents, and no .flow_artifacts folder; run `flow-artifacts demo` to make one, or "
    "give --stack FILE"
)


class State:
    """What every command needs: the stack, resolved on first use (so --help stays fast)."""

    def __init__(self, stack_spec: str | None, debug: bool) -> None:
        self.stack_spec = stack_spec
        self.debug = debug
        self.stack_failed = False
        self._stack: Stack | None = None

    @property
    def stack(self) -> Stack:
        if self._stack is None:
            from ..stack import resolve_stack

            try:
                self._stack = resolve_stack(self.stack_spec)
            except ConfigError:
                self.stack_failed = True
                raise
        return self._stack

    def nothing_here(self) -> bool:
        """No stack named, active or found, and no embedded default in the current folder yet:
        read commands say so instead of creating one (`stack.discovery.nothing_to_open`)."""
        if self._stack is not None or self.stack_spec:
            return False
        opened = sys.modules.get("flow_artifacts.stack.stack")  # not loaded: none is active
        if opened is not None and opened._active.get() is not None:
            return False
        from ..stack.discovery import nothing_to_open

        return nothing_to_open(Path.cwd())

    @property
    def existing(self) -> Stack:
        """The stack, for commands that read or change what exists: with no stack here at all,
        they say so (exit 1) instead of creating an empty one to look in."""
        if self.nothing_here():
            missing = ArtifactNotFound(NOTHING_HERE)
            missing.hint = ""
            raise missing
        return self.stack
