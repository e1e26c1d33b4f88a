"""What a catalog row can hold, checked before any byte is written, the same on every database.

SQLite stores almost anything; PostgreSQL refuses text longer than its column, NUL characters in
text, and NaN or infinite numbers in JSON. A write that failed only at the catalog insert would
already have published its manifest, so everything a row will hold is checked here first, on
both engines alike. `catalog/schema.py` sizes its columns from these constants.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import IntegrityError, InvalidName, MetadataValidationError

if TYPE_CHECKING:
    from .manifest import Manifest

NAME_CHARS = 200
"""Projects, names, run ids, steps, tags, label keys, aspects, materializer ids, MIME types."""
LABEL_VALUE_CHARS = 500
STATUS_CHARS = 20
"""Run and step-run statuses, artifact kinds."""
CHECKSUM_CHARS = 80
ID_CHARS = 36
JSON_DEPTH = 100
"""Nesting limit of JSON values (metadata, aspects, params), well below any parser's."""
JSON_INT_DIGITS = 4300
"""Python's default limit of int-to-text conversion: no reader parses a longer JSON integer."""
_JSON_INT_BOUND = 10**JSON_INT_DIGITS
MAX_VERSION = 2**31 - 1
"""Versions are 32-bit integer columns (PostgreSQL's `integer`): the highest one a name may get.
Process ids recorded for runs share the bound."""
MAX_PARAM_CHARS = 2_000
"""A recorded step parameter, as JSON, is at most this long (a longer one is described)."""
MAX_JSON_FILE_BYTES = 256 << 20
"""A manifest or journal record read from the store is at most this big; larger is refused."""
_JSON_FILE_DEPTH = JSON_DEPTH + 10
"""A manifest nests metadata a few levels below its top."""
_JSON_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[][{}]')


def check_text(value: object, what: str, max_chars: int | None = None) -> str:
    """`value` if a text column can hold it on every engine, else `InvalidName` saying why."""
    if not isinstance(value, str):
        raise InvalidName(f"{what} must be a string, got {type(value).__name__}")
    problem = _text_problem(value)
    if problem is None and max_chars is not None and len(value) > max_chars:
        problem = f"it is {len(value)} characters long, more than the {max_chars} allowed"
    if problem:
        raise InvalidName(f"{what} {value!r:.60} cannot be recorded: {problem}")
    return value


def check_labels(labels: Mapping[Any, Any]) -> None:
    """Label keys are non-empty text of at most 200 characters, values text of at most 500."""
    for key, value in labels.items():
        if not isinstance(key, str) or not key:
            raise InvalidName(f"label key {key!r:.60} must be a non-empty string")
        check_text(key, "label key", NAME_CHARS)
        check_text(value, f"label {key}", LABEL_VALUE_CHARS)


def check_json(value: Any, what: str) -> None:
    """`value` as JSON the same on both engines: str keys, finite numbers, no NUL, bounded depth."""
    if not _plainly_storable(value):
        _check_json_walk(value, what)


def _plainly_storable(value: Any) -> bool:
    """Whether `check_json` accepts `value`, told quickly for what every save checks (plain
    dicts, lists, strings and numbers: its manifest): the text is checked once, all together.
    False when in doubt; then `_check_json_walk` decides, and names the first problem."""
    texts: list[str] = []
    pending: list[tuple[Any, int]] = [((value,), -1)]
    while pending:
        container, depth = pending.pop()
        depth += 1  # of the container's items
        if depth > JSON_DEPTH:
            return False
        if type(container) is dict:
            for key in container:
                if type(key) is not str:
                    return False
            texts.extend(container)
            items: Any = container.values()
        else:
            items = container
        for item in items:
            kind = type(item)
            if kind is str:
                texts.append(item)
            elif kind is dict or kind is list or kind is tuple:
                pending.append((item, depth))
            elif kind is float:
                if not math.isfinite(item):
                    return False
            elif kind is int:
                if not -_JSON_INT_BOUND < item < _JSON_INT_BOUND:
                    return False
            elif not (kind is bool or item is None):
                return False
    text = "".join(texts)
    return "\x00" not in text and not _has_surrogate(text)


def _check_json_walk(value: Any, what: str) -> None:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > JSON_DEPTH:
            raise MetadataValidationError(f"{what} is nested deeper than {JSON_DEPTH} levels")
        if isinstance(item, str):
            _json_text(item, what)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -_JSON_INT_BOUND < item < _JSON_INT_BOUND:
                raise MetadataValidationError(
                    f"{what} holds an integer of more than {JSON_INT_DIGITS} digits, which JSON "
                    "cannot record; use a string instead"
                )
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise MetadataValidationError(
                    f"{what} holds the number {item}, which JSON cannot record; "
                    "use null or a string instead"
                )
        elif isinstance(item, Mapping):
            for key, nested in item.items():
                if not isinstance(key, str):
                    raise MetadataValidationError(
                        f"{what} has the key {key!r:.60}; JSON keys must be strings"
                    )
                _json_text(key, what)
                stack.append((nested, depth + 1))
        elif isinstance(item, (list, tuple)):
            stack.extend((nested, depth + 1) for nested in item)
        else:
            raise MetadataValidationError(
                f"{what} holds a {type(item).__name__}, which is not JSON; "
                "use strings, numbers, booleans, null, lists and dicts"
            )


def parse_json_file(raw: bytes, what: str) -> Any:
    """JSON read from the store (untrusted): size and nesting bounded before it is parsed, so a
    planted file gives an `IntegrityError`, never a RecursionError or an exhausted memory."""
    if len(raw) > MAX_JSON_FILE_BYTES:
        raise IntegrityError(
            f"{what} is {len(raw) >> 20} MiB, more than the {MAX_JSON_FILE_BYTES >> 20} MiB "
            "allowed: it was not written by flow-artifacts"
        )
    depth = 0
    for token in _JSON_TOKEN.finditer(raw):
        opener = token.group()[0]
        if opener in b"[{":
            depth += 1
            if depth > _JSON_FILE_DEPTH:
                raise IntegrityError(
                    f"{what} is nested deeper than {_JSON_FILE_DEPTH} levels: it was not "
                    "written by flow-artifacts"
                )
        elif opener in b"]}":
            depth -= 1
    try:
        return json.loads(raw)
    except ValueError as exc:  # also a number too long for Python's int-to-text limit
        raise IntegrityError(f"{what} is not valid JSON (truncated or corrupted): {exc}") from exc


def storable_text(value: str) -> str:
    """Text made recordable by replacing what no engine stores alike (for error messages)."""
    if _text_problem(value) is None:
        return value
    return "".join("\ufffd" if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in value)


def _json_text(value: str, what: str) -> None:
    if "\x00" in value:
        raise MetadataValidationError(f"{what} holds a NUL character in {value!r:.60}")
    if _has_surrogate(value):
        raise MetadataValidationError(f"{what} holds an unpaired surrogate in {value!r:.60}")


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "it contains a NUL character (U+0000), which PostgreSQL cannot store"
    if _has_surrogate(value):
        return "it contains an unpaired surrogate, which is not valid Unicode text"
    return None


def _has_surrogate(value: str) -> bool:
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_row_fits(manifest: Manifest) -> None:
    """Everything the catalog row of `manifest` will hold, checked before it is published.

    Told at once for a row that fits (every save's): types and lengths, then every text of the
    manifest together (`_plainly_storable`); otherwise each field in turn names the problem."""
    if not (_lengths_fit(manifest) and _plainly_storable(manifest.to_dict())):
        _check_each_field(manifest)


def _lengths_fit(m: Manifest) -> bool:
    """Whether the row's text columns are strings within their lengths (their characters are
    checked with the rest of the manifest's)."""
    for value, limit in (
        (m.project, NAME_CHARS), (m.name, NAME_CHARS), (m.run_id, NAME_CHARS),
        (m.step, NAME_CHARS), (m.pipeline, NAME_CHARS), (m.materializer, NAME_CHARS),
        (m.mime_type, NAME_CHARS), (m.id, ID_CHARS), (m.kind, STATUS_CHARS),
        (m.checksum, CHECKSUM_CHARS), (m.key, -1), (m.data_path, -1), (m.description, -1),
    ):  # fmt: skip
        if type(value) is not str or len(value) > limit >= 0:
            return False
    return type(m.labels) is dict and all(
        type(k) is str and 0 < len(k) <= NAME_CHARS and type(v) is str
        and len(v) <= LABEL_VALUE_CHARS
        for k, v in m.labels.items()
    )  # fmt: skip


def _check_each_field(manifest: Manifest) -> None:
    for what, value in (
        ("project", manifest.project),
        ("name", manifest.name),
        ("run_id", manifest.run_id),
        ("step", manifest.step),
        ("pipeline", manifest.pipeline),
        ("materializer id", manifest.materializer),
        ("MIME type", manifest.mime_type),
    ):
        check_text(value, what, NAME_CHARS)
    check_text(manifest.id, "artifact id", ID_CHARS)
    check_text(manifest.kind, "kind", STATUS_CHARS)
    check_text(manifest.checksum, "checksum", CHECKSUM_CHARS)
    check_text(manifest.key, "key")
    check_text(manifest.data_path, "data path")
    check_labels(manifest.labels)
    check_text(manifest.description, "description")
    check_json(manifest.to_dict(), f"the manifest of {manifest.key!r}")  # its metadata too
