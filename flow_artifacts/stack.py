"""A stack: the store, catalog, path template and overrides that artifacts of a project use."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .artifact import Artifact
from .materializers.registry import Explanation
from .plugins import PluginHost, default_plugin_host
from .store import ArtifactStore
from .template import DEFAULT_TEMPLATE, PathTemplate

DEFAULT_ROOT = ".flow_artifacts"


@dataclass
class Stack:
    store: ArtifactStore
    overrides: Mapping[str, str] = field(default_factory=dict)
    allow_pickle: bool = True
    plugins: PluginHost = field(default_factory=default_plugin_host)

    @classmethod
    def local(cls, root: str | os.PathLike[str] = DEFAULT_ROOT, *, template: str = DEFAULT_TEMPLATE) -> Stack:
        """The embedded default: artifacts in `<root>/artifacts`."""
        root = Path(root).absolute()
        return cls(store=ArtifactStore(root / "artifacts", template=PathTemplate(template)))

    def materialize(
        self,
        obj: Any,
        name: str,
        run_id: str,
        step_name: str,
        project: str = "default",
        **options: Any,
    ) -> Artifact:
        options.setdefault("overrides", self.overrides)
        options.setdefault("allow_pickle", self.allow_pickle)
        return self.store.materialize(obj, name, run_id, step_name, project, **options)

    def load(self, ref: str | Artifact, **options: Any) -> Any:
        return self.store.load(ref, **options)

    def explain(self, obj: Any, **options: Any) -> Explanation:
        options.setdefault("overrides", self.overrides)
        options.setdefault("allow_pickle", self.allow_pickle)
        return self.plugins.materializers.explain(obj, **options)


_stacks: dict[str, Stack] = {}


def get_stack() -> Stack:
    """The active stack: for now the embedded default under the current directory."""
    cwd = os.getcwd()
    if cwd not in _stacks:
        _stacks[cwd] = Stack.local(Path(cwd) / DEFAULT_ROOT)
    return _stacks[cwd]
