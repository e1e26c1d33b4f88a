"""A Dagster run's final status, recorded from a process that did not run its steps.

Under the multiprocess executor no step process sees the run end (see `recorder`), and the IO
manager is never set up in the process that orchestrates the run, so no listener of ours hears
`RUN_SUCCESS` or `RUN_FAILURE`. Dagster's instance keeps both: the run's status in its run
storage, the failure's message in its event log. Whoever holds the instance after the end (the
caller of `execute_job`, a run status sensor) can read them and end the run that its step
processes joined, which stayed `external`.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

import flow_artifacts as fa

from .recorder import safe

_ENDED = {
    dg.DagsterRunStatus.SUCCESS: None,
    dg.DagsterRunStatus.FAILURE: dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterRunStatus.CANCELED: dg.DagsterEventType.RUN_CANCELED,
}


def record_run_end(
    instance: dg.DagsterInstance, run_id: str, stack: fa.Stack, project: str
) -> str | None:
    """End the run of Dagster run `run_id` as Dagster's `instance` says it ended; its status
    afterwards (None if it recorded nothing). A run already ended (one the in-process executor
    ran) is left as it is."""
    dagster_run = instance.get_run_by_id(run_id)
    if dagster_run is None:
        raise fa.ConfigError(f"Dagster run {run_id} is not in this Dagster instance")
    if dagster_run.status not in _ENDED:
        raise fa.ConfigError(
            f"Dagster run {run_id} is {dagster_run.status.value}, not ended: "
            "record its end once Dagster reports its success, failure or cancellation"
        )
    try:
        recorded = stack.catalog.run(project, run_id)
    except fa.ArtifactNotFound:
        return None
    if recorded.status != "external":
        return recorded.status
    run = fa.Run(project=project, pipeline=safe(dagster_run.job_name), run_id=run_id, stack=stack)
    run.join()
    run.finish(_failure(instance, run_id, _ENDED[dagster_run.status]))
    return run.status


def _failure(instance: dg.DagsterInstance, run_id: str, kind: Any) -> str | None:
    """Dagster's message for the run's failure or cancellation (None for a success)."""
    if kind is None:
        return None
    events = instance.all_logs(run_id, of_type=kind)
    message = events[-1].dagster_event.message if events and events[-1].dagster_event else None
    return message or kind.value
