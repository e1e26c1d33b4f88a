"""What a step is called with: artifacts loaded, lineage inputs found, parameters recorded.

Arguments are searched through lists, tuples and dicts (at most MAX_ITEMS values, MAX_DEPTH levels
deep). An `Artifact` or a `Reference` found there is loaded for the function; it, and any object a
step returned earlier, becomes an input of the step run. For cached steps the same walk builds
the fingerprint the cache key is made from.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..artifact import Artifact
from ..errors import MetadataValidationError
from ..limits import MAX_PARAM_CHARS, check_json
from ..materializers.registry import dotted_name
from ..redact import MASK, is_secret_name, redact
from ..refs import parse_ref
from .cache import Unfingerprintable, fingerprint_value

if TYPE_CHECKING:
    from .context import Run

log = logging.getLogger("flow_artifacts.steps")
"""The steps' logger, taken by name: context.py, which holds it too, imports this module."""

MAX_ITEMS = 10_000
MAX_DEPTH = 20


@dataclass(frozen=True)
class Reference:
    """A stored artifact named by reference; a step it is passed to loads it."""

    text: str

    def __post_init__(self) -> None:
        parse_ref(self.text)  # a malformed reference fails here, not mid-pipeline

    def __str__(self) -> str:
        return self.text


def ref(text: str) -> Reference:
    """Point at a stored artifact, e.g. `fa.ref("store://demo/clean:prod")`, to pass to a step:
    the step gets the loaded object, and the artifact is recorded as the step run's input."""
    return Reference(text)


@dataclass
class PreparedCall:
    arguments: dict[str, Any]
    """What the function is called with: artifacts and references replaced by their objects."""
    inputs: dict[str, Artifact]
    """Lineage inputs by id, in the order found."""
    params: dict[str, Any]
    """What the step run records: JSON-able values, artifact URIs, or type names."""
    fingerprint: dict[str, Any] | None
    """For the cache key; None when not asked for, or when `uncacheable` says why not."""
    uncacheable: str | None = None


def prepare_call(arguments: Mapping[str, Any], run: Run, *, fingerprint: bool) -> PreparedCall:
    scanner = _Scanner(run, fingerprint)
    values: dict[str, Any] = {}
    prints: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for name, value in arguments.items():
        values[name], prints[name] = scanner.scan(value, 0)
        params[name] = describe_param(name, value, scanner.artifact_of(value))
    return PreparedCall(
        arguments=values,
        inputs=scanner.inputs,
        params=params,
        fingerprint=prints if scanner.fingerprinting else None,
        uncacheable=scanner.reason,
    )


class _Scanner:
    def __init__(self, run: Run, fingerprinting: bool) -> None:
        self.run = run
        self.fingerprinting = fingerprinting
        self.reason: str | None = None
        self.inputs: dict[str, Artifact] = {}
        self.budget = MAX_ITEMS
        self._resolved: dict[Reference, Artifact] = {}

    def artifact_of(self, value: Any) -> Artifact | None:
        if isinstance(value, Artifact):
            return value
        if isinstance(value, Reference):
            if value not in self._resolved:
                from ..api import resolve

                self._resolved[value] = resolve(value.text, self.run.stack)
            return self._resolved[value]
        return self.run.producer_of(value)

    def scan(self, value: Any, depth: int) -> tuple[Any, Any]:
        """(the value for the function, its fingerprint or None)."""
        artifact = self.artifact_of(value)
        if artifact is not None:
            self._add_input(artifact)
            loaded = artifact.load() if isinstance(value, (Artifact, Reference)) else value
            return loaded, ["artifact", artifact.checksum]
        self.budget -= 1
        if depth < MAX_DEPTH and self.budget > 0:
            if isinstance(value, dict):
                return self._scan_dict(value, depth)
            if isinstance(value, (list, tuple)):
                return self._scan_sequence(value, depth)
        return value, self._leaf(value)

    def _scan_dict(self, value: dict[Any, Any], depth: int) -> tuple[Any, Any]:
        scanned = {k: self.scan(v, depth + 1) for k, v in value.items()}
        result = value
        for key, (new, _) in scanned.items():
            if new is not value[key]:
                if result is value:
                    result = copy.copy(value)
                result[key] = new
        pairs = [[self._leaf(k), fp] for k, (_, fp) in scanned.items()]
        return result, [_kind(value), pairs] if self.fingerprinting else None

    def _scan_sequence(self, value: list[Any] | tuple[Any, ...], depth: int) -> tuple[Any, Any]:
        scanned = [self.scan(v, depth + 1) for v in value]
        result: Any = value
        if any(new is not old for (new, _), old in zip(scanned, value, strict=True)):
            items = [new for new, _ in scanned]
            if isinstance(value, list):
                result = copy.copy(value)
                result[:] = items
            elif hasattr(value, "_make"):  # a namedtuple
                result = value._make(items)
            else:
                result = tuple(items)
        prints = [fp for _, fp in scanned]
        return result, [_kind(value), prints] if self.fingerprinting else None

    def _leaf(self, value: Any) -> Any:
        if not self.fingerprinting:
            return None
        try:
            return fingerprint_value(value)
        except Unfingerprintable as exc:
            self.fingerprinting, self.reason = False, str(exc)
            return None

    def _add_input(self, artifact: Artifact) -> None:
        stack = self.run.stack
        if stack is not None and artifact.store.url != stack.store.url:
            log.warning(
                "input %s is from another store than run %s's; not recorded as lineage",
                artifact,
                self.run.id,
            )
            return
        self.inputs.setdefault(artifact.id, artifact)


def _kind(value: Any) -> str:
    return type(value).__name__ if type(value) in (dict, list, tuple) else dotted_name(type(value))


def describe_param(name: str, value: Any, artifact: Artifact | None = None) -> Any:
    """How a parameter is recorded: as itself when small and JSON-able, else a description."""
    if is_secret_name(name):
        return MASK
    if artifact is not None:
        return f"<artifact {artifact.uri or artifact.key}>"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # nan, inf: JSON cannot hold them
    if isinstance(value, (list, tuple, dict)) and len(value) > MAX_PARAM_CHARS:
        return f"<{dotted_name(type(value))} of {len(value)} items>"
    try:
        text = json.dumps(value, allow_nan=False)
        plain = redact(json.loads(text))
        check_json(plain, "parameter")  # what the journal accepts back (see journal._params)
    except (TypeError, ValueError, RecursionError, MetadataValidationError):
        return f"<{dotted_name(type(value))}>"
    size = max(len(text), len(json.dumps(plain)))
    if size > MAX_PARAM_CHARS:
        return f"<{dotted_name(type(value))} of {size} characters as JSON>"
    return plain
