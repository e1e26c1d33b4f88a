"""flow-artifacts for Dagster: `FlowArtifactsIOManager`, a `ConfigurableIOManager`."""

from __future__ import annotations

from .io_manager import FlowArtifactsIOManager

__all__ = ["FlowArtifactsIOManager"]
