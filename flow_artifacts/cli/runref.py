"""How runs are shown in tables: the first characters of their id (`--wide`: all of it)."""

from __future__ import annotations

SHORT_RUN_ID = 8
"""Characters of a run id shown where a table has no room for the whole of it; `run show` and
`diff --runs` take any unique prefix (see `compare.find_run`)."""


def short_run_id(run_id: str) -> str:
    return run_id[:SHORT_RUN_ID]
