"""Step runs and the run's status from Dagster's own events.

The IO manager sees outputs and inputs, not when a step starts or fails; Dagster's instance
reports every event of a run to the listeners added for it (`add_event_listener`), in the
process that handles the event. The IO manager listens from where it is set up: each step start
opens a step run, each success or failure ends it (a retry is the step run's next attempt).
In the process that runs the whole run (the in-process executor: `materialize()`,
`execute_in_process()`) it also opens the run, and the run's success or failure ends it. There
the run's start and each step run's end are committed with the next step run's start, or with
the run's end (`Run.defer_writes`): one catalog transaction per step, not two, plus the
outputs'. Dagster reports a step's end and the next step's start (or the run's end) one right
after the other, with no user code in between.

Under the multiprocess executor each step runs in a child process that sees only its own
step's events, never the run's end: there the recorder joins the run (`Run.join`), recording
the step's run and leaving the run itself `external` until `run_end` records its end.
"""

from __future__ import annotations

import logging
import multiprocessing
import re
import threading
import uuid
from typing import Any

import flow_artifacts as fa

log = logging.getLogger("flow_artifacts_dagster")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
_IDS = uuid.UUID("5d2c4b4e-8a8f-4c55-9a57-8f0d1f6c2a10")
_lock = threading.Lock()
_recording: dict[str, Recorder] = {}


class Recorder:
    """The run of one Dagster run, its step runs opened and ended by the run's events."""

    def __init__(self, run: fa.Run, partition: str | None) -> None:
        self.run = run
        self.partition = partition
        self.open: dict[str, fa.StepRun] = {}
        self._lock = threading.Lock()

    def step_name(self, step_key: str) -> str:
        """The step run's name, also the step segment of its artifacts' paths."""
        step = safe(step_key)
        return step if self.partition is None else f"{step}.{safe(self.partition)}"

    def step_run(self, step_key: str) -> fa.StepRun | None:
        with self._lock:
            return self.open.get(step_key)

    def __call__(self, entry: Any) -> None:
        """A Dagster event of the run; a failure to record it is logged, never raised into
        Dagster's event handling."""
        event = entry.dagster_event
        if event is None:
            return
        try:
            self._record(event)
        except Exception as exc:
            log.warning("could not record Dagster event %s: %s", event.event_type_value, exc)

    def _record(self, event: Any) -> None:
        key = event.step_key
        if event.is_step_start or event.is_step_restarted:
            step_run_id = str(uuid.uuid5(_IDS, f"{self.run.id}/{key}"))
            opened = self.run.start_step(self.step_name(key), step_run_id=step_run_id)
            with self._lock:
                self.open[key] = opened
        elif event.is_step_success or event.is_step_failure or event.is_step_up_for_retry:
            with self._lock:
                step_run = self.open.pop(key, None)
            if step_run is not None:
                self.run.finish_step(step_run, None if event.is_step_success else _error(event))
        elif event.is_job_success or event.is_run_failure or event.event_type_value in _ENDS:
            self.end(None if event.is_job_success else event.message or event.event_type_value)

    def end(self, failure: str | None) -> None:
        """End the run, and any step run still open (as failed: the run ended under it)."""
        with _lock:
            if _recording.get(self.run.id) is not self:
                return
            del _recording[self.run.id]
        with self._lock:
            left, self.open = list(self.open.values()), {}
        for step_run in left:
            self.run.finish_step(step_run, failure or "the run ended before the step did")
        self.run.finish(failure)


_ENDS = ("PIPELINE_CANCELED", "RUN_CANCELED")


def start_recording(context: Any, stack: fa.Stack, project: str) -> None:
    """Open the run of `context`'s Dagster run and listen to its events, once per run, in the
    process that runs the whole run (see the module's docstring)."""
    dagster_run, instance = context.run, context.instance
    if dagster_run is None or instance is None:
        return
    run_id = dagster_run.run_id
    with _lock:
        if run_id in _recording:
            return
        run = fa.Run(
            project=project,
            pipeline=safe(dagster_run.job_name),
            run_id=run_id,
            stack=stack,
        )
        if multiprocessing.parent_process() is None:
            run.defer_writes()  # the run's start and each step's end wait for the next start
            run.start()
        else:  # a step worker: its steps only; the run's process has the run's end
            run.join()
        if not run.recording:  # FLOW_ARTIFACTS_DISABLED: nothing to record
            return
        partition = dagster_run.tags.get("dagster/partition")
        _recording[run_id] = Recorder(run, partition)
    instance.add_event_listener(run_id, _recording[run_id])


def recorder_of(run_id: str) -> Recorder | None:
    with _lock:
        return _recording.get(run_id)


def safe(text: str) -> str:
    """A Dagster name (step key, partition key) as one flow_artifacts path segment."""
    cleaned = _UNSAFE.sub("_", text).replace("..", "_").lstrip(".")
    return cleaned[:200] or "_"


def _error(event: Any) -> str:
    """The user's error of a failed step (Dagster wraps it), as `Type: message`."""
    data = event.step_failure_data if event.is_step_failure else event.step_retry_data
    error = getattr(data, "error", None)
    if error is None:
        return event.message or "failed"
    while error.cause is not None and error.cls_name.startswith("Dagster"):
        error = error.cause
    return error.message.strip()
