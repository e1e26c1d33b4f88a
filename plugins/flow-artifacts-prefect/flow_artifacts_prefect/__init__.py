"""flow-artifacts for Prefect 3: `flow` and `task` (Prefect's, recorded), and a cache policy."""

from __future__ import annotations

from .cache import ARTIFACT_INPUTS, ArtifactChecksums
from .recording import flow, task

__all__ = ["ARTIFACT_INPUTS", "ArtifactChecksums", "flow", "task"]
