"""The store's ground: its URL, filesystem and identity, and the paths inside it.

`ArtifactStore` (`stores/store.py`) is built on it from one part per job: reading
(`stores/store_reads.py`), writing (`stores/store_writes.py`) and maintenance
(`stores/store_maintenance.py`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, StoreError, shown_path
from ..manifest import Manifest
from ..plugins import PluginHost, default_plugin_host
from ..redact import redact_url, scrub, secret_values
from ..template import PLACEHOLDER_FIX, PathTemplate, url_placeholder
from .failures import ErrorTranslator, Failure, classify
from .identity import store_identity
from .leases import DEFAULT_LEASE_SECONDS, PendingWrite
from .paths import IDENTITY, candidate_keys, files_only, is_local, rel_to
from .writing import Writer

if TYPE_CHECKING:
    from ..artifact import Artifact


class StoreBase:
    """What every part of `ArtifactStore` stands on: see `ArtifactStore` for the arguments."""

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        template: str | PathTemplate = PathTemplate(),
        plugins: PluginHost | None = None,
        progress: bool | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        **storage_options: Any,
    ) -> None:
        raw_url = os.fspath(url)
        placeholder = url_placeholder(raw_url)
        if placeholder:
            raise ConfigError(
                f"store URL {redact_url(raw_url)!r} holds {placeholder}, which would become a "
                f"folder of that name; {PLACEHOLDER_FIX}"
            )
        self.url = redact_url(raw_url)
        """The store's URL, without any `user:password@` part, as recorded in the catalog."""
        self.progress = progress
        """Progress bars for long transfers: None shows them in interactive terminals only."""
        self.plugins = plugins or default_plugin_host()
        self.template = template if isinstance(template, PathTemplate) else PathTemplate(template)
        self.lease_seconds = lease_seconds
        """How long a write in flight stays alive without renewal (see `stores/leases.py`)."""
        import fsspec  # here, not with the package: it costs more than the rest of the API

        self.backend = self.plugins.store_backends.for_protocol(fsspec.utils.get_protocol(raw_url))
        secrets = secret_values([raw_url, storage_options])
        self.backend.check_installed(self.url)
        if self.backend.buckets:
            storage_options = {"use_listings_cache": False, **storage_options}
        try:
            self.fs, root = fsspec.core.url_to_fs(raw_url, **storage_options)
        except (ImportError, ValueError, TypeError) as exc:
            raise StoreError(scrub(f"cannot open store {self.url}: {exc}", secrets)) from exc
        self.root = root.rstrip("/")
        self._local = is_local(self.fs)
        self._errors = ErrorTranslator(self, secrets, self._root_missing, self.root)
        self._writer = Writer(self.fs, self.root, self.backend, self._errors)
        self._writes: dict[str, PendingWrite] = {}
        self._identity: str | None = None
        self._real_root: str | None = None
        """The root with symbolic links resolved, once: what every read path must lie in."""
        if self._local:
            os.makedirs(self.root, exist_ok=True)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"

    def __str__(self) -> str:
        """The store as messages name it: a local one by `shown_path` (no absolute path),
        others by their URL without credentials."""
        return f"store {shown_path(self.root) if self._local else self.url}"

    @property
    def identity(self) -> str:
        """The store's id, recorded at its root on first use: the same however the URL is
        spelled (moved folder, trailing slash, `file://`, endpoint alias)."""
        return self._identify("reading", IDENTITY)

    def _identify(self, operation: str, key: str) -> str:
        if self._identity is None:
            with self._errors.io(operation, key):
                self._identity = store_identity(self.fs, self.root, local=self._local)
        return self._identity

    def full_path(self, rel: str) -> str:
        """A path users can show and open: plain on local disk, with the protocol elsewhere."""
        path = self._abs(rel)
        return path if self._local else self.fs.unstrip_protocol(path)

    def _abs(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def _rel(self, path: str) -> str:
        return rel_to(path, self.root)

    def keys_for(self, ref: str | Artifact) -> list[str]:
        """The keys a reference (key, data path relative or full, handle) may name."""
        if is_artifact(ref):
            return [ref.manifest.key]  # type: ignore[union-attr]
        if not isinstance(ref, str):
            return []
        for prefix in (self.full_path(""), self.root):
            if prefix and ref.startswith(prefix + "/"):
                return candidate_keys(ref[len(prefix) + 1 :])
        return candidate_keys(ref)

    def _find(self, path: str, what: str) -> dict[str, Mapping[str, Any]]:
        """Files under `path` with their details; none if it does not exist, unless that is
        because the bucket (or root folder) itself is missing, which some SDKs list as empty."""
        with self._errors.io("listing", what):
            try:
                found = files_only(self.fs.find(path, detail=True))
            except Exception as exc:
                if classify(exc) is not Failure.MISSING:
                    raise
                found = {}
            if not found and self._root_missing():
                raise FileNotFoundError(path)
        return found

    def _root_missing(self) -> bool:
        """Whether the bucket (object stores) or root folder (local disk) is gone."""
        if not (self.backend.buckets or self._local):
            return False
        root = self.root.split("/", 1)[0] if self.backend.buckets else self.root
        try:
            return not self.fs.exists(root)
        except Exception:  # unsure, e.g. not allowed to look: not "missing"
            return False


def is_artifact(ref: object) -> bool:
    """Whether `ref` is a handle (anything holding a `Manifest`), without importing `Artifact`."""
    return hasattr(ref, "manifest") and isinstance(ref.manifest, Manifest)
