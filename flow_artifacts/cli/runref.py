"""How a run is named on the command line: `[PROJECT/]RUN_ID`, where RUN_ID may be the short id
`ls` and `lineage` print (a unique prefix)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ArtifactNotFound, ConfigError

if TYPE_CHECKING:
    from ..catalog import RunRecord
    from ..stack import Stack

SHORT_RUN_ID = 8
"""Characters of a run id shown where a table has no room for the whole of it."""


def short_run_id(run_id: str) -> str:
    return run_id[:SHORT_RUN_ID]


def resolve_run(stack: Stack, text: str) -> RunRecord:
    """The one run `text` names, in its project or (without one) in any project."""
    project, sep, run_id = text.strip().rpartition("/")
    if not run_id:
        raise ConfigError(f"{text!r:.80} names no run; write [PROJECT/]RUN_ID")
    found = stack.catalog.runs_matching(run_id, project if sep else None)
    where = f" in project {project!r}" if sep else ""
    if not found:
        raise ArtifactNotFound(
            f"no run {run_id!r:.80}{where}; list runs with `flow-artifacts runs`"
        )
    if len(found) > 1:
        raise ConfigError(
            f"run {run_id!r:.80}{where} is ambiguous; give more of its id or PROJECT/RUN_ID"
        )
    return found[0]
