"""A stack: the store, catalog, path template and materializer overrides artifacts go through."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import Catalog
from .plugins import PluginHost, default_plugin_host
from .redact import redact_url
from .store import ArtifactStore
from .template import DEFAULT_TEMPLATE, PathTemplate

DEFAULT_ROOT = ".flow_artifacts"


@dataclass
class Stack:
    """Where artifacts go and how they are recorded; secrets stay inside the store's filesystem."""

    store: ArtifactStore
    catalog: Catalog
    overrides: Mapping[str, str] = field(default_factory=dict)
    """Materializer id by dotted type name, e.g. ``{"pandas.DataFrame": "pandas.parquet"}``."""
    allow_pickle: bool = True
    name: str = "default"
    plugins: PluginHost = field(default_factory=default_plugin_host)

    @classmethod
    def local(
        cls, root: str | os.PathLike[str] = DEFAULT_ROOT, *, template: str = DEFAULT_TEMPLATE
    ) -> Stack:
        """The embedded default: artifacts in `<root>/artifacts`, the catalog in `<root>/catalog.db`."""
        base = Path(root).absolute()
        return cls(
            store=ArtifactStore(base / "artifacts", template=PathTemplate(template)),
            catalog=Catalog(f"sqlite:///{base / 'catalog.db'}"),
            name="local",
        )

    def __repr__(self) -> str:
        return (
            f"Stack(name={self.name!r}, store={redact_url(self.store.url)!r}, "
            f"catalog={redact_url(self.catalog.url)!r})"
        )


_default_stacks: dict[str, Stack] = {}


def get_stack() -> Stack:
    """The active stack: the embedded default under the current directory."""
    cwd = os.getcwd()
    if cwd not in _default_stacks:
        _default_stacks[cwd] = Stack.local(Path(cwd) / DEFAULT_ROOT)
    return _default_stacks[cwd]
