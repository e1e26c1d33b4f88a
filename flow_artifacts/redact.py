"""Keep credentials out of everything shown or stored: URLs and option mappings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@")
_SECRET_WORDS = ("secret", "password", "token", "key", "credential", "sas", "connection_string")
MASK = "***"


def redact_url(url: str) -> str:
    """`url` with any `user:password@` part masked."""
    return _USERINFO.sub(rf"\g<1>{MASK}@", url)


def is_secret_option(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of storage options with secret-looking values masked, recursively."""
    return {
        k: MASK if is_secret_option(k) else redact_options(v) if isinstance(v, Mapping) else v
        for k, v in options.items()
    }
