"""Cache keys: a hash of a step's code, its parameters and the checksums of its input artifacts.

Inputs count by content, not identity: an input artifact with the same bytes gives the same key
whatever its name, version or id. Other values count by a stable form: themselves for plain
scalars, the bytes of their pickle otherwise, so two different DataFrames never share a key.
Only the step's own code (and the values it closes over) counts, not the helpers it calls or the
globals it reads; after changing those, run once with `cache=False` to refresh the cache.
"""

from __future__ import annotations

import abc
import ast
import hashlib
import inspect
import json
import textwrap
import types
from typing import TYPE_CHECKING, Any

from ..errors import FlowArtifactsWarning
from ..materializers.registry import dotted_name

if TYPE_CHECKING:
    from .decorator import Step

KEY_VERSION = 1
_PLAIN = (type(None), bool, int, str)


class CacheWarning(FlowArtifactsWarning):
    """A cached step ran without its cache because an argument cannot be fingerprinted."""


class Fingerprinted(abc.ABC):
    """A value hashed by its code rather than its content: a step passed as an argument."""

    @property
    @abc.abstractmethod
    def code_fingerprint(self) -> str:
        """The hash of the code, changing whenever the code does."""


class Unfingerprintable(Exception):
    """A value has no stable form to hash; the message says which and why."""


def cache_key(step: Step, project: str, arguments: dict[str, Any]) -> str:
    """The key under which a call's outputs are found again; `arguments` are fingerprints."""
    body = {
        "v": KEY_VERSION,
        "step": f"{step.func.__module__}.{step.func.__qualname__}",
        "code": step.code_fingerprint,
        "closure": closure_fingerprint(step.func),
        "project": project,
        "outputs": step.outputs,
        "materializers": [
            step.materializer,
            sorted(step.output_materializers.items()),
            sorted(step.type_materializers.items()),
        ],
        "labels": sorted(step.labels.items()),
        "kind": step.kind,
        "arguments": arguments,
    }
    if step.options or step.output_options:  # only then, so other steps keep their keys
        body["materializer_options"] = [step.options, step.output_options]
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    # a key compared with recorded keys, not a checksum of stored bytes: it stays sha256, so the
    # keys recorded before new artifacts were hashed with BLAKE3 still match
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def fingerprint_value(value: Any) -> Any:
    """A JSON-able form of `value` that changes whenever its content does."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        return ["float", repr(value)]
    if kind is bytes:
        return ["bytes", hashlib.sha256(value).hexdigest()]
    if isinstance(value, Fingerprinted):
        return ["step", value.code_fingerprint]
    if isinstance(value, types.FunctionType):  # code only: a closure may refer to itself
        return ["function", code_fingerprint(value)]
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    import cloudpickle

    try:
        data = cloudpickle.dumps(value, protocol=5)
    except Exception as exc:
        raise Unfingerprintable(
            f"a {dotted_name(kind)} cannot be pickled to hash it: {exc}"
        ) from exc
    return ["pickle", dotted_name(kind), hashlib.sha256(data).hexdigest()]


def code_fingerprint(func: Any) -> str:
    """Hash of a function's code: its syntax tree (so comments and formatting don't count), or
    its bytecode when the source is not available."""
    try:
        form = ast.dump(ast.parse(textwrap.dedent(inspect.getsource(func))))
    except (OSError, TypeError, SyntaxError):
        form = _bytecode_form(func.__code__)
    return hashlib.sha256(form.encode()).hexdigest()


def closure_fingerprint(func: Any) -> list[Any]:
    """Fingerprints of the values a function closes over, e.g. the arguments of its factory."""
    prints = []
    for cell in getattr(func, "__closure__", None) or ():
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        prints.append(fingerprint_value(contents))
    return prints


def _bytecode_form(code: types.CodeType) -> str:
    consts = [
        _bytecode_form(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts
    ]
    return repr((code.co_code, consts, code.co_names, code.co_varnames))
