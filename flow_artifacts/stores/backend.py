"""Descriptions of fsspec protocols: how to publish atomically there and what to install."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..errors import PluginError, StoreError


@dataclass(frozen=True)
class StoreBackend:
    """What the artifact store must know about a family of fsspec protocols."""

    name: str
    protocols: tuple[str, ...]
    requires: str | None = None
    """Module that implements the protocol (e.g. ``"s3fs"``); imported before the store opens."""
    install: str | None = None
    """What to run when `requires` is missing."""
    atomic_rename: bool = False
    """Bytes can go to a temporary name and be renamed into place; object stores cannot."""
    buckets: bool = False
    """An object store: paths start with a bucket or container, which must exist and is never
    created, and there are no real directories (so `makedirs` does nothing)."""
    can_sign: bool = False
    """The filesystem's `sign()` makes URLs that work without credentials."""
    sign_hint: str | None = None
    """What signing needs beyond the store's own credentials, said when it fails."""
    exclusive_create: bool = False
    """Writes can be conditional (if-none-match): `open(path, "xb")`, `pipe_file(mode="create")`."""
    multipart_uploads: bool = False
    """Unfinished multipart uploads outlive a killed writer and can be listed and aborted through
    the S3 API (`stores/uploads.py`), so gc cleans them."""

    def check_installed(self, url: str) -> None:
        """Import `requires` now, so a missing extra is named with its install command.

        Importing (rather than only looking the module up) also catches a broken install.
        """
        if not self.requires:
            return
        try:
            importlib.import_module(self.requires)
        except ImportError as exc:
            raise StoreError(
                f"store {url} needs the {self.requires!r} package, which cannot be imported "
                f"({exc}); install it with: {self.install or 'pip install ' + self.requires}"
            ) from exc


GENERIC = StoreBackend(name="generic", protocols=())


class StoreBackendRegistry:
    """Backends by protocol; a protocol claimed twice is an error naming both plugins."""

    def __init__(self) -> None:
        self._by_protocol: dict[str, tuple[StoreBackend, str]] = {}

    def register(self, backend: StoreBackend, *, plugin: str) -> None:
        if not isinstance(backend, StoreBackend):
            raise PluginError(f"plugin {plugin!r} registered {backend!r}, not a StoreBackend")
        for protocol in backend.protocols:
            if protocol in self._by_protocol:
                other = self._by_protocol[protocol][1]
                raise PluginError(
                    f"store protocol {protocol!r} is registered twice: by plugin {other!r} and by "
                    f"plugin {plugin!r}"
                )
            self._by_protocol[protocol] = (backend, plugin)

    def for_protocol(self, protocol: str) -> StoreBackend:
        found = self._by_protocol.get(protocol)
        return found[0] if found else GENERIC

    def protocols(self) -> list[str]:
        return sorted(self._by_protocol)
