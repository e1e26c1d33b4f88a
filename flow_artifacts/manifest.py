"""The JSON manifest written beside every artifact's bytes.

It makes a store self-describing: with manifests alone, artifacts can be listed, loaded, verified
and a lost catalog rebuilt. It never holds credentials: only names, formats, checksums and lineage
ids.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import IntegrityError
from .limits import parse_json_file
from .refs import artifact_uri
from .version import __version__

MANIFEST_SUFFIX = ".artifact.json"
FORMAT = "flow-artifacts.manifest"
FORMAT_VERSION = 1


@dataclass
class Manifest:
    """Everything known about one artifact at the moment its bytes were published."""

    id: str
    key: str
    """Path of the artifact inside the store, without extension: the rendered template."""
    data_path: str
    """Path of the bytes (file or directory) inside the store."""
    project: str
    name: str
    run_id: str
    step: str
    materializer: str
    materializer_version: str
    kind: str
    mime_type: str
    size: int
    checksum: str
    """`<algorithm>:<64 hex digits>`: `blake3` for new artifacts, `sha256` for older ones."""
    created: str
    pipeline: str = "default"
    directory: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    files: dict[str, list[Any]] = field(default_factory=dict)
    """For directory artifacts: relative path -> [hex digest, size], hashed with the algorithm
    that `checksum` names."""
    libraries: dict[str, str] = field(default_factory=dict)
    version: int | None = None
    inputs: list[str] = field(default_factory=list)
    """Ids of the artifacts this one was produced from."""
    labels: dict[str, str] = field(default_factory=dict)
    description: str = ""
    user_metadata: dict[str, Any] = field(default_factory=dict)
    step_run_id: str | None = None
    owner: dict[str, str] = field(default_factory=dict)
    """Who wrote it: user, host and, in a git work tree, the commit (see `provenance.py`)."""
    updated: str | None = None
    """When its record last changed (`update`, `add_metadata`), from the catalog; else None."""

    @property
    def uri(self) -> str | None:
        """`store://<project>/<name>@<version>` once the catalog has given it a version."""
        if self.version is None:
            return None
        return artifact_uri(self.project, self.name, self.version)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a shallow dict (nested values shared): cheaper than `asdict`."""
        return {name: getattr(self, name) for name in _FIELD_NAMES}

    def to_json(self) -> bytes:
        """The manifest file's bytes: one line, which the C encoder writes (an indented one
        goes through the pure-Python encoder, three times slower, on every write)."""
        return self.encoded().text.encode("utf-8")

    def encoded(self) -> ManifestJSON:
        """The manifest file's JSON object, its format first, then the fields in order, with
        its text: encoded once, for the file and the catalog row."""
        body = ManifestJSON(format=FORMAT, format_version=FORMAT_VERSION, **self.to_dict())
        body.text = json.dumps(body)
        return body

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> Manifest:
        try:
            body = parse_json_file(raw, f"manifest {where}")
        except IntegrityError as exc:
            raise IntegrityError(
                f"{exc}. Run `flow-artifacts verify` and restore it, or delete the artifact."
            ) from exc
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise IntegrityError(f"{where} is not a flow-artifacts manifest")
        version = body.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise IntegrityError(
                f"manifest {where} has format version {version!r}, newer than this release "
                f"understands ({FORMAT_VERSION}); upgrade flow-artifacts to read it"
            )
        known = set(_FIELD_NAMES)
        try:
            return cls(**{k: v for k, v in body.items() if k in known})
        except TypeError as exc:
            raise IntegrityError(f"manifest {where} is missing fields: {exc}") from exc


class ManifestJSON(dict[str, Any]):
    """A manifest's JSON object and its `text`, which `json.dumps` of it gives again (the same
    items in the same order): a catalog may store the text as it is instead of encoding again."""

    __slots__ = ("text",)
    text: str


_FIELD_NAMES = tuple(f.name for f in fields(Manifest))


def runtime_versions() -> dict[str, str]:
    return {"python": platform.python_version(), "flow_artifacts": __version__}
