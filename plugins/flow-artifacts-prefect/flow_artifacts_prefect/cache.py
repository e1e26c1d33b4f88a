"""A Prefect cache policy keyed on the checksums of a task's input artifacts.

An argument that is an artifact, or an object a recorded task of this flow run returned, counts
by its artifact's checksum (content, whatever its name or version); other arguments count as
Prefect's `INPUTS` policy counts them. Hashing a checksum instead of a 1M-row frame is also faster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy
from prefect.context import TaskRunContext

import flow_artifacts as fa


@dataclass
class ArtifactChecksums(CachePolicy):
    """Cache key from the input artifacts' checksums and the other inputs' values."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        run = fa.current_run()
        keyed: dict[str, Any] = {}
        for name, value in (inputs or {}).items():
            artifact = value if isinstance(value, fa.Artifact) else None
            if artifact is None and run is not None:
                artifact = run.producer_of(value)
            keyed[name] = f"artifact {artifact.checksum}" if artifact else value
        return INPUTS.compute_key(task_ctx, keyed, flow_parameters, **kwargs)


ARTIFACT_INPUTS = ArtifactChecksums() + TASK_SOURCE
"""The policy to use: input checksums (and other inputs), plus the task's source code."""
