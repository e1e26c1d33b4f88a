"""`FLOW_ARTIFACTS_DISABLED`: steps become plain functions and runs record nothing."""

from __future__ import annotations

import os

from ..errors import ConfigError

DISABLED_ENV = "FLOW_ARTIFACTS_DISABLED"
_YES = {"1", "true", "yes", "on"}
_NO = {"", "0", "false", "no", "off"}


def steps_disabled() -> bool:
    """Whether `FLOW_ARTIFACTS_DISABLED` turns steps into plain functions (read at every call)."""
    raw = os.environ.get(DISABLED_ENV, "").strip().lower()
    if raw in _YES:
        return True
    if raw in _NO:
        return False
    allowed = ", ".join(sorted(_YES | _NO - {""}))
    raise ConfigError(f"{DISABLED_ENV}={raw!r} is not a yes/no value; allowed: {allowed}")
