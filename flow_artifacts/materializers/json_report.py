"""Reports as JSON: dicts, lists, scalars and dataclasses made only of those.

A value that JSON cannot hold exactly (a non-string key, NaN, a set, a custom object) is declined,
so it falls through to another materializer instead of being silently changed.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from itertools import islice
from typing import Any

from ..hookspecs import hookimpl
from .base import ArtifactKind, Materializer
from .preview import text

MAX_DEPTH = 200
MAX_KEYS = 50


class JsonReportMaterializer(Materializer):
    reads_whole_file = True
    id = "builtins.json"
    handles = (
        "builtins.dict",
        "builtins.list",
        "builtins.str",
        "builtins.int",
        "builtins.float",
        "builtins.bool",
        type(None),  # not "builtins.NoneType": the builtins module has no such attribute
        "builtins.object",  # dataclass instances only; see accepts()
    )
    extension = ".json"
    mime_type = "application/json"
    kind = ArtifactKind.REPORT

    def accepts(self, obj: Any) -> bool:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            obj = dataclasses.asdict(obj)
        return _is_plain_json(obj, 0)

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        python_type = f"{type(obj).__module__}.{type(obj).__qualname__}"
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            obj = dataclasses.asdict(obj)
        body = _encode(obj).encode("utf-8")
        with fs.open(path, "wb") as f:
            f.write(body)
        metadata: dict[str, Any] = {"python_type": python_type}
        if isinstance(obj, dict):
            metadata["keys"] = [text(key) for key in islice(obj, MAX_KEYS)]
        return metadata

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        return json.loads(fs.cat_file(path))  # the verified bytes themselves, not a file over them


_ENCODE = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",\n ", ": ")).encode
"""Python's C encoder (it runs only without `indent`, several times faster than the indenting
one), one item per line so `cat` of the file and a cut preview stay readable. Reports written
with `indent=1` before read the same."""


def _encode(obj: Any) -> str:
    """A dict of scalars (the usual metrics report) byte for byte as `indent=1` wrote it."""
    text = _ENCODE(obj)
    return "{\n " + text[1:-1] + "\n}" if type(obj) is dict and obj else text


def _is_plain_json(value: Any, depth: int) -> bool:
    if depth > MAX_DEPTH:
        return False
    kind = type(value)
    if value is None or kind in (str, bool, int):
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_is_plain_json(item, depth + 1) for item in value)
    if kind is dict:
        return all(type(k) is str and _is_plain_json(v, depth + 1) for k, v in value.items())
    return False


@hookimpl
def register_materializers(register: Callable[[type[Materializer]], None]) -> None:
    register(JsonReportMaterializer)
