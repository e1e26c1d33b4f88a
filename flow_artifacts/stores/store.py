"""`ArtifactStore`: artifacts as bytes plus a manifest on any fsspec filesystem.

Writes are invisible until complete. Where the filesystem can rename (local disk, memory), bytes go
to a hidden temporary name and are linked into place without overwriting anything. On object
stores (S3, GCS, Azure) an object appears whole when its upload completes, and every write is
conditional (if-none-match), so of two writers racing for a key exactly one wins. Either way the
manifest is written last, and an artifact exists exactly when its manifest does.

`ArtifactStore` puts together one part per job (`store_base`: URL, filesystem, identity, paths;
`store_reads`; `store_writes`; `store_maintenance`) and adds the user-facing calls on top:
`materialize`, `save`, `exists`, `get_metadata`, `size`, handles and the journal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactNotFound, ConfigError
from ..manifest import Manifest
from ..materializers.registry import Dispatch
from ..naming import validate_new_name
from .store_maintenance import StoreMaintenance
from .store_writes import StoreWrites

if TYPE_CHECKING:
    from ..artifact import Artifact
    from ..journal import Journal


class ArtifactStore(StoreWrites, StoreMaintenance):
    """Artifacts on one fsspec URL: `materialize`/`save` to write, `load` to read back.

    `storage_options` go to fsspec as they are and are never written anywhere or shown: not in
    `repr()`, not in error messages. On object stores, listings are not cached unless asked
    (`use_listings_cache=True`), since other processes add and remove artifacts.
    """

    def materialize(
        self,
        obj: Any,
        name: str,
        run_id: str,
        step_name: str,
        project: str = "default",
        *,
        pipeline: str = "default",
        materializer: str | None = None,
        overrides: Mapping[str, str] | None = None,
        allow_pickle: bool = True,
        project_name: str | None = None,
    ) -> Artifact:
        """Save `obj` at the templated path for (project, run_id, step_name, name).

        `project_name` is FlowyML's spelling of `project`."""
        if project_name is not None:
            if project not in ("default", project_name):
                raise ConfigError(
                    f"project={project!r} and project_name={project_name!r} disagree; pass one"
                )
            project = project_name
        dispatch = Dispatch(
            self.plugins.materializers, materializer, dict(overrides or {}), allow_pickle
        )
        manifest = self.write_data(
            obj, dispatch.choose, name=name, project=project, run_id=run_id, step=step_name,
            pipeline=pipeline,
        )  # fmt: skip
        self._publish_manifest(manifest)
        return self.artifact(manifest)

    def save(
        self,
        obj: Any,
        path: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        materializer: str | None = None,
    ) -> Artifact:
        """Save `obj` at an explicit `path` (no template); `metadata` is kept in the manifest.

        A path that already ends with the format's extension (`reports/metrics.json` for a
        dict) is the data file's own name; otherwise the extension is appended."""
        segments = path.strip("/").split("/")
        for segment in segments:
            validate_new_name(segment, "path segment")
        chosen = Dispatch(self.plugins.materializers, materializer).choose(obj)
        extension = chosen.extension_for(obj)
        last = segments[-1]
        if extension and last.endswith(extension) and len(last) > len(extension):
            segments[-1] = last[: -len(extension)]
        manifest = self.write_data(
            obj, lambda _: chosen, key="/".join(segments), name=segments[-1], metadata=metadata
        )
        self._publish_manifest(manifest)
        return self.artifact(manifest)

    def _publish_manifest(self, manifest: Manifest) -> None:
        """`write_manifest`, removing the published bytes if it fails, so the key stays free."""
        try:
            self.write_manifest(manifest)
        except BaseException:
            self.discard_unpublished(manifest)
            raise
        self.finish_write(manifest)

    def exists(self, ref: str | Artifact) -> bool:
        try:
            self.get_manifest(ref)
        except ArtifactNotFound:
            return False
        return True

    def get_metadata(self, ref: str | Artifact) -> dict[str, Any] | None:
        """The whole manifest as a dict (format metadata, checksum, size, identity, versions),
        or None when no artifact is there (FlowyML's contract)."""
        try:
            return self.get_manifest(ref).to_dict()
        except ArtifactNotFound:
            return None

    def size(self, ref: str | Artifact) -> int:
        return self.get_manifest(ref).size

    def artifact(self, ref: str | Manifest) -> Artifact:
        """A handle; given a reference, its manifest is read from the store (so never unpickled)."""
        from ..artifact import Artifact

        if isinstance(ref, Manifest):
            return Artifact(ref, store=self)
        return Artifact(self.get_manifest(ref), store=self, from_store=True)

    @property
    def journal(self) -> Journal:
        """This store's journal of catalog changes (see `journal.py`)."""
        from ..journal import Journal

        return Journal(self)
