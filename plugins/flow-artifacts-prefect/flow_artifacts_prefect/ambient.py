"""The flow_artifacts plugin (entry point `prefect`): inside a Prefect flow run, the run that
step calls record into is that flow run's (see `flow_runs`).

It is asked on every step call made outside an `fa.run`; where Prefect was never imported, no
flow can be running, so it answers None without importing Prefect."""

from __future__ import annotations

import sys

import flow_artifacts as fa


@fa.hookimpl
def ambient_run() -> fa.Run | None:
    if "prefect.context" not in sys.modules:
        return None
    from .flow_runs import current_flow_run

    return current_flow_run()
