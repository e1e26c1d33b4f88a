"""flow-artifacts for Kedro: `ArtifactDataset` for `catalog.yml`, and the hooks that record runs.

The hooks are registered through Kedro's `kedro.hooks` entry point, so installing the package is
enough; `settings.DISABLE_HOOKS_FOR_PLUGINS = ("flow-artifacts-kedro",)` switches them off.
"""

from __future__ import annotations

from .dataset import ArtifactDataset
from .hooks import FlowArtifactsHooks, hooks

__all__ = ["ArtifactDataset", "FlowArtifactsHooks", "hooks"]
