"""Artifact references, the one parser and formatter: ids, URNs, `store://project/name[@version|:tag]`
and, where a user types one (CLI, web page), the same without `store://`."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import lru_cache

from .errors import InvalidName
from .naming import validate_name

URN_PREFIX = "urn:flow-artifacts:artifact:"
STORE_SCHEME = "store://"
_STORE_REF = re.compile(
    r"^store://(?P<project>[^/]+)/(?P<name>[^@:/]+)(?:@(?P<version>[^@:]+)|:(?P<tag>[^@:]+))?$"
)


@dataclass(frozen=True)
class Ref:
    """A parsed reference: either an artifact id, or a project/name with an optional selector."""

    id: str | None = None
    project: str | None = None
    name: str | None = None
    version: int | None = None
    tag: str | None = None

    def __str__(self) -> str:
        if self.id:
            return artifact_urn(self.id)
        selector = f"@{self.version}" if self.version else f":{self.tag}" if self.tag else ""
        return f"{STORE_SCHEME}{self.project}/{self.name}{selector}"


def artifact_uri(
    project: str, name: str, version: int | None = None, *, tag: str | None = None
) -> str:
    """`store://project/name`, with `@version` or `:tag` when given."""
    return str(Ref(project=project, name=name, version=version, tag=tag))


def display_ref(project: str, name: str, version: int | None) -> str:
    """`project/name@version`: how a reference is shown to people (CLI and web page), as they
    type it back (`bare` references)."""
    return f"{project}/{name}" + (f"@{version}" if version is not None else "")


def artifact_urn(artifact_id: str) -> str:
    return URN_PREFIX + artifact_id


def is_reference(text: str) -> bool:
    """Whether `text` claims to be a reference (URN or `store://`), not a store path."""
    return text.strip().startswith((STORE_SCHEME, URN_PREFIX))


def parse_ref(ref: str, *, bare: bool = False) -> Ref:
    """Parse a reference string; raise `InvalidName` with the accepted forms if it doesn't parse.

    With `bare`, `project/name[@version|:tag]` is read as if written with `store://`: for what
    users type on a command line or in a web address. A `Ref` is immutable, so one string's
    parse is kept and shared (every load parses its reference; the row it names never is).
    """
    if type(ref) is str:
        return _parsed(ref, bare)
    if not isinstance(ref, str):
        raise InvalidName(f"artifact reference must be a string, got {type(ref).__name__}")
    return _parsed(str(ref), bare)


@lru_cache(maxsize=4096)
def _parsed(ref: str, bare: bool) -> Ref:
    text = ref.strip()
    if bare and "/" in text and not is_reference(text):
        text = STORE_SCHEME + text
    if text.startswith(URN_PREFIX):
        return Ref(id=_uuid(text[len(URN_PREFIX) :], ref))
    if text.startswith(STORE_SCHEME):
        match = _STORE_REF.match(text)
        if not match:
            raise _bad(ref)
        version = match["version"]
        if version is not None and not (
            version.isascii() and version.isdigit() and int(version) > 0
        ):
            raise InvalidName(f"artifact reference {ref!r}: version must be a positive integer")
        return _ref(
            project=validate_name(match["project"], "project"),
            name=validate_name(match["name"], "name"),
            version=int(version) if version else None,
            tag=validate_name(match["tag"], "tag") if match["tag"] else None,
        )
    return Ref(id=_uuid(text, ref))


def _ref(**fields: object) -> Ref:
    """`Ref(**fields)` without the frozen dataclass's `__init__`, which sets each field through
    `object.__setattr__` and costs more than the rest of a parse: every load parses one."""
    ref = object.__new__(Ref)
    ref.__dict__.update(id=None, **fields)
    return ref


def _uuid(text: str, ref: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise _bad(ref) from None


def _bad(ref: str) -> InvalidName:
    return InvalidName(
        f"cannot parse artifact reference {ref!r:.100}; use an id, "
        "'urn:flow-artifacts:artifact:<id>', or 'store://<project>/<name>[@<version>|:<tag>]'"
    )
