"""A stack's materializer options: defaults by materializer id, checked before anything is written.

`materializer_options: {pandas.parquet: {compression: zstd}}` makes every Parquet write of a
pandas frame on the stack use zstd unless the call says otherwise. They are checked against the
installed materializers when the stack is made, so a typo fails when the stack file is read,
not halfway through a pipeline. Options shape the bytes a materializer writes; they are never
a place for credentials, so an option named like one is refused whatever the materializer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConfigError
from ..materializers.registry import MaterializerRegistry
from ..redact import is_secret_name

KEY = "materializer_options"
OptionPath = tuple[str, ...]
MakeError = Callable[[OptionPath, str, str | None], ConfigError]
"""Builds the error for a problem at a path under `materializer_options` (what is allowed)."""


def check_options(
    registry: MaterializerRegistry, by_id: Any, error: MakeError, *, unexpanded: bool = False
) -> dict[str, dict[str, Any]]:
    """`by_id` (materializer id -> option -> value) as plain dicts, each option checked by its
    materializer; the first problem raises what `error` makes of it. `unexpanded`: values
    may still hold `${VAR}`, and those are left to the check after expansion."""
    if not isinstance(by_id, Mapping):
        raise error(
            (), f"expected a mapping of materializer id -> options, got {_kind(by_id)}", None
        )
    checked: dict[str, dict[str, Any]] = {}
    for mid, options in by_id.items():
        if type(mid) is not str or mid not in registry:
            shown = f"{mid!r:.60}" if type(mid) is str else f"a {type(mid).__name__}"
            raise error((str(mid)[:60],), f"unknown materializer {shown}", registry.describe_ids())
        if not isinstance(options, Mapping):
            raise error(
                (mid,), f"expected a mapping of option -> value, got {_kind(options)}", None
            )
        materializer = registry.get(mid)
        accepted = ", ".join(sorted(materializer.options)) or "none"
        for name, value in options.items():
            if type(name) is str and is_secret_name(name):
                raise error(
                    (mid,),
                    f"option {name[:60]!r} is named like a credential; materializer options "
                    "shape the bytes written and never carry secrets",
                    accepted,
                )
            if unexpanded and isinstance(value, str) and "$" in value:
                continue
            try:
                materializer.with_options({name: value})
            except ConfigError as exc:
                raise error((mid, str(name)[:60]), str(exc), None) from None
        checked[mid] = dict(options)
    return checked


def in_code(path: OptionPath, problem: str, allowed: str | None) -> ConfigError:
    """The error for options given in code (`Stack(materializer_options=...)`)."""
    where = "".join(f"[{part!r}]" for part in path)
    return ConfigError(f"{KEY}{where}: {problem}" + (f"; allowed: {allowed}" if allowed else ""))


def _kind(value: Any) -> str:
    return "nothing (null)" if value is None else f"a {type(value).__name__}"
