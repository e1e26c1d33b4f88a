"""The `Materializer` contract: how objects of some types become bytes in a store, and back."""

from __future__ import annotations

import abc
import copy
from collections.abc import Mapping
from enum import Enum
from typing import Any, ClassVar

from ..errors import ConfigError
from ..redact import scrub

MAX_METADATA_BYTES = 64 << 10
"""What `save` may return as format metadata, as JSON: manifests and catalog rows hold it for every
version, so it must stay small whatever the data (see `preview` for bounded table previews)."""


class ArtifactKind(str, Enum):
    """What an artifact is to a person browsing a catalog."""

    DATASET = "dataset"
    MODEL = "model"
    REPORT = "report"
    FILE = "file"
    OBJECT = "object"


class Materializer(abc.ABC):
    """Saves objects of the types in `handles` in one format, and loads them back.

    Subclasses set the class attributes and implement `save` and `load`. All I/O goes through the
    `fs` (an fsspec filesystem) and `path` they are handed: the store decides where bytes go, so
    write-once, atomic publish and checksums work the same for every materializer. Write files with
    `fs.open(path, "wb")` so the checksum is computed while the bytes stream out.
    """

    id: ClassVar[str]
    """Stable id recorded with every artifact, e.g. ``"pandas.parquet"``; never rename it."""
    handles: ClassVar[tuple[str | type, ...]] = ()
    """Types handled, as dotted names (``"pandas.DataFrame"``) so no library is imported early."""
    extension: ClassVar[str] = ""
    mime_type: ClassVar[str] = "application/octet-stream"
    kind: ClassVar[ArtifactKind] = ArtifactKind.OBJECT
    version: ClassVar[str] = "1"
    """Format version: bump it when `save` output changes so `load` can tell old artifacts apart."""
    directory: ClassVar[bool] = False
    """True when `save` writes a directory of files at `path` instead of one file."""
    fallback: ClassVar[bool] = False
    """A fallback is chosen only when no other materializer accepts the object."""
    priority: ClassVar[int] = 0
    """Between materializers claiming the same type, the highest priority that accepts the
    value wins (the built-ins have 0): a plugin sets `priority = 10` to take over a type a
    built-in claims. Equal highest priorities are an `AmbiguousMaterializer` error."""
    uses_pickle: ClassVar[bool] = False
    """Loading runs code from the bytes; the store verifies the checksum before `load`."""
    reads_whole_file: ClassVar[bool] = False
    """`load` reads its one file only through `fs.open(path, "rb")` or `fs.cat_file(path)`, all
    of it: the store may then read the file once, verify it, and hand `load` those bytes."""

    options: ClassVar[Mapping[str, tuple[Any, ...]]] = {}
    """What `save` can be told per write (name -> the values allowed), read from `settings`:
    `fa.materialize(..., materializer_options={"compression": "zstd"})`."""
    settings: Mapping[str, Any] = {}
    """The options this instance saves with (see `with_options`); `{}` means the defaults."""

    def with_options(self, options: Mapping[str, Any]) -> Materializer:
        """A copy of this materializer that saves with `options`, each checked against `options`
        of the class, so that a misspelt name or value fails before the first byte."""
        for name, value in options.items():
            if type(name) is not str or name not in self.options:
                accepted = ", ".join(sorted(self.options)) or "none"
                raise ConfigError(
                    f"materializer {self.id!r} takes no option {_shown(name)} "
                    f"(it takes: {accepted})"
                )
            # Same type and equal, never `in`: an array's `==` has no truth value.
            if not any(type(value) is type(v) and value == v for v in self.options[name]):
                allowed = ", ".join(repr(v) for v in self.options[name])
                raise ConfigError(
                    f"materializer {self.id!r} option {name!r} cannot be {_shown(value)}: use "
                    f"one of {allowed}"
                )
        configured = copy.copy(self)
        configured.settings = {**self.settings, **options}
        return configured

    def accepts(self, obj: Any) -> bool:
        """Whether this materializer can save this particular object (beyond its type)."""
        return True

    def writes_directory(self, obj: Any) -> bool:
        """Whether `save` writes a directory of files for this object."""
        return self.directory

    def extension_for(self, obj: Any) -> str:
        """File extension for this object; most materializers have one fixed extension."""
        return self.extension

    def mime_type_for(self, obj: Any) -> str:
        """Media type recorded for this object; most materializers have one fixed type."""
        return self.mime_type

    @abc.abstractmethod
    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        """Write `obj` at `path` on `fs`; return JSON-able format metadata (schema, shape...),
        at most `MAX_METADATA_BYTES` of it."""

    @abc.abstractmethod
    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        """Read the object written by `save` at `path`; `metadata` is what `save` returned."""

    def library_versions(self) -> dict[str, str]:
        """Versions of the libraries that wrote the bytes, recorded in the manifest."""
        return {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id!r}>"


def _shown(value: Any) -> str:
    """A plain value as written (a string with any secret it holds by structure masked), anything
    else by its type only: a repr may hold secrets."""
    if type(value) is str:
        return f"{scrub(value)!r:.60}"
    if value is None or type(value) in (int, float, bool):
        return f"{value!r:.60}"
    return f"a {type(value).__name__}"
