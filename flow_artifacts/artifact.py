"""`Artifact`: the handle users get back, bound to the store (and catalog) that holds it."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .aspects import aspect_schema, named_by_schema
from .errors import ConfigError, MetadataValidationError, UnsupportedOperation, shown_path
from .local_file import LocalFile
from .manifest import Manifest
from .manifest_checks import data_suffix
from .naming import validate_name
from .pickle_policy import check_may_load
from .progress import progress_bar
from .refs import artifact_urn
from .stores.transfer import READ_CHUNK

if TYPE_CHECKING:
    from .catalog.lineage import Direction, LineageGraph
    from .stack import Stack
    from .stores.store import ArtifactStore

DEFAULT_CHUNK = READ_CHUNK
NO_BODY: Any = object()
"""`add_metadata` called IVCAP's way, with a record and no separate body."""


class Artifact:
    """One stored artifact: identity, format, checksum, and ways to read it back.

    Its `manifest` is the catalog row's, or the one this process wrote; `from_store` marks one
    read from the store for an artifact no catalog holds: checked, but never unpickled. Without a
    `stack` (a handle from a bare `ArtifactStore`), catalog operations are unavailable.
    """

    def __init__(
        self,
        manifest: Manifest,
        *,
        store: ArtifactStore,
        stack: Stack | None = None,
        from_store: bool = False,
    ) -> None:
        self.manifest = manifest
        self._store = store
        self._stack = stack
        self.from_store = from_store

    # identity
    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def urn(self) -> str:
        return artifact_urn(self.manifest.id)

    @property
    def uri(self) -> str | None:
        """`store://<project>/<name>@<version>` once the catalog has given it a version."""
        return self.manifest.uri

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def project(self) -> str:
        return self.manifest.project

    @property
    def run_id(self) -> str:
        return self.manifest.run_id

    @property
    def step(self) -> str:
        return self.manifest.step

    @property
    def version(self) -> int | None:
        return self.manifest.version

    @property
    def key(self) -> str:
        return self.manifest.key

    @property
    def file_name(self) -> str:
        """`NAME-vVERSION.EXT` (`NAME.EXT` uncataloged): what a download into a folder (and
        `flow-artifacts get`) names it, from the catalog's name and version and the checked
        extension of its data, never from a file name in the store."""
        cataloged = self.version is not None and not self.from_store
        version = f"-v{self.version}" if cataloged else ""
        return f"{validate_name(self.name)}{version}{data_suffix(self.manifest)}"

    # format
    @property
    def path(self) -> str:
        """Where the bytes are: a local path, or a URL with its protocol."""
        return self._store.full_path(self.manifest.data_path)

    @property
    def materializer(self) -> str:
        return self.manifest.materializer

    @property
    def kind(self) -> str:
        return self.manifest.kind

    @property
    def mime_type(self) -> str:
        return self.manifest.mime_type

    @property
    def size(self) -> int:
        return self.manifest.size

    @property
    def checksum(self) -> str:
        return self.manifest.checksum

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.manifest.created)

    @property
    def metadata(self) -> dict[str, Any]:
        """What the materializer recorded: schema, rows, preview, shape..."""
        return self.manifest.metadata

    @property
    def owner(self) -> dict[str, str]:
        """Who wrote it: `user`, `host` and, when written in a git work tree, `commit`."""
        return dict(self.manifest.owner)

    @property
    def updated(self) -> datetime | None:
        """When `update` or `add_metadata` last changed its record; None if never."""
        return datetime.fromisoformat(self.manifest.updated) if self.manifest.updated else None

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.manifest.labels)

    @property
    def description(self) -> str:
        return self.manifest.description

    @property
    def inputs(self) -> list[str]:
        """Ids of the artifacts this one was produced from."""
        return list(self.manifest.inputs)

    @property
    def store(self) -> ArtifactStore:
        return self._store

    def record(self) -> dict[str, Any]:
        """The artifact as plain data: what `flow-artifacts show --json` and the web page show."""
        return {
            "id": self.id,
            "uri": self.uri,
            "urn": self.urn,
            "project": self.project,
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "materializer": self.materializer,
            "mime_type": self.mime_type,
            "size": self.size,
            "checksum": self.checksum,
            "created": self.created.isoformat(),
            "updated": self.manifest.updated,
            "owner": self.owner,
            "run_id": self.run_id,
            "step": self.step,
            "labels": self.labels,
            "description": self.description,
            "path": self.path,
            "inputs": self.inputs,
            "metadata": self.metadata,
        }

    # reading
    def load(self, *, verify: bool = True) -> Any:
        """The object, loaded by the materializer that wrote it; the checksum is verified.

        Pickles are loaded only if the stack's catalog recorded them (see `pickle_policy`).
        """
        if self._stack is not None:
            check_may_load(self, self._stack)
        return self._store.load(self, verify=verify)

    def verify(self) -> None:
        """Raise `IntegrityError` if the stored bytes no longer match the recorded checksum."""
        self._store.verify(self.manifest)

    def as_stream(self, chunk_size: int = DEFAULT_CHUNK) -> Iterator[bytes]:
        """The bytes in chunks of at most `chunk_size`, with bounded memory; verified at the end.

        `chunk_size` 0 or less (IVCAP's default, -1) yields the whole content as one chunk."""
        self._require_file("as_stream")
        return self._store.open_stream(self.manifest, chunk_size)

    def open(self) -> io.BytesIO:
        """The whole content in memory, verified, as a file object. For small artifacts."""
        return io.BytesIO(b"".join(self.as_stream()))

    def as_local_file(
        self, path: str | os.PathLike[str] | None = None, chunk_size: int = DEFAULT_CHUNK
    ) -> LocalFile:
        """A verified local copy, as a `Path` that is also a context manager.

        Without `path`, a temporary copy: deleted when the `with` block ends (or, without one,
        when the process exits). With `path`, the copy is kept
        there, and `with` is not needed: `p = art.as_local_file("out.jpg")`.
        """
        if path is None:
            target = LocalFile.temporary(Path(self.manifest.data_path).name)
            try:
                self.download(target, chunk_size=chunk_size)
            except BaseException:
                target.cleanup()
                raise
            return target
        return LocalFile(self.download(path, chunk_size=chunk_size))

    def download(self, path: str | os.PathLike[str], *, chunk_size: int = DEFAULT_CHUNK) -> Path:
        """Stream the bytes to `path` (parents created), verified; a directory artifact as a tree.

        An existing folder at `path` receives the artifact inside it, as `file_name`. A file
        appears only once complete and verified; memory stays at a few chunks.
        """
        target = Path(path)
        if target.is_dir():
            target = target / self.file_name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ConfigError(
                f"cannot download {self.uri} to {shown_path(target)}: a file is in the way of "
                f"its folder {shown_path(target.parent)}; choose another path"
            ) from None
        if self.manifest.directory:
            self._store.download_directory(self.manifest, target)
            return target
        partial = target.with_name(f".{target.name}.partial")
        bar = progress_bar(f"downloading {self.key}", self.size, self._store.progress)
        try:
            with open(partial, "wb") as f:
                for chunk in self.as_stream(chunk_size):
                    f.write(chunk)
                    bar.update(len(chunk))
            os.replace(partial, target)
        finally:
            bar.close()
            partial.unlink(missing_ok=True)
        return target

    def presigned_url(
        self, expires_in: int = 3600, *, allow_local: bool = False, **sign_options: Any
    ) -> str:
        """A URL anyone can GET for `expires_in` seconds (S3, GCS, Azure SAS).

        `sign_options` go to the filesystem's `sign()`: GCS needs `credentials=` of a service
        account. Local stores have no such URL; `allow_local=True` returns a `file://` URL.
        """
        return self._store.sign(self.manifest, expires_in, allow_local=allow_local, **sign_options)

    # catalog
    @property
    def status(self) -> str:
        cataloged = self.manifest.version is not None and not self.from_store
        return "committed" if cataloged else "uncataloged"

    @property
    def tags(self) -> list[str]:
        return self._require_stack("tags").catalog.tags(self.id)

    @property
    def aspects(self) -> dict[str, Any]:
        """Metadata aspects added with `add_metadata`, latest record of each."""
        return self._require_stack("aspects").catalog.aspects(self.id)

    def tag(self, tag: str) -> Artifact:
        """Point `tag` at this version, so `store://project/name:tag` resolves to it."""
        stack = self._require_stack("tag")
        stack.catalog.tag(self.id, tag, journal=stack.store.journal)
        return self

    def add_metadata(
        self,
        aspect: str | Mapping[str, Any],
        body: Any = NO_BODY,
        schema: Mapping[str, Any] | str | None = None,
    ) -> Artifact:
        """Attach a typed metadata record and return this artifact. `schema` is a JSON Schema
        the body is validated against, or a schema identifier (IVCAP's `urn:...`) recorded
        with it; without one, the body's own `$schema` (either form) is used. IVCAP's form,
        `add_metadata(record, schema="urn:...")`, names the aspect by that identifier."""
        stack = self._require_stack("add_metadata")
        if body is NO_BODY:
            aspect, body = named_by_schema(aspect, schema)
        elif not isinstance(aspect, str):
            raise MetadataValidationError(
                "add_metadata(aspect, body): the aspect is a name such as 'quality'"
            )
        checked = aspect_schema(aspect, body, schema)
        stack.catalog.add_aspect(self.id, aspect, body, checked, journal=stack.store.journal)
        return self

    def lineage(self, direction: Direction = "upstream", depth: int | None = None) -> LineageGraph:
        """Artifacts and step runs upstream (what it came from) or downstream (what used it)."""
        return self._require_stack("lineage").catalog.lineage(self.id, direction, depth)

    def _require_stack(self, operation: str) -> Stack:
        if self._stack is None:
            raise UnsupportedOperation(
                f"{operation} needs a catalog; artifact {self.key!r} was read from a bare store. "
                "Get it through fa.get_artifact() instead."
            )
        return self._stack

    def _require_file(self, operation: str) -> None:
        if self.manifest.directory:
            raise UnsupportedOperation(
                f"{operation} reads one file, but artifact {self.key!r} is a directory; "
                "use as_local_file() or download()"
            )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Artifact) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        ref = self.uri or self.key
        return f"<Artifact {ref} {self.materializer} {self.size} bytes>"
