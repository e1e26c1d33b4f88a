"""A run handed to other processes: what they need to record their step runs into it.

An orchestrator that runs its tasks in worker processes (Kedro's `ParallelRunner`) starts the
run in its own process, hands each worker a `RunTicket` (it pickles, and holds no secret), and
each worker joins the run with `ticket.join()`: step runs are recorded under the run's id on the
run's stack, which the worker opens itself, once per process (a forked worker never uses the
connections it inherited). The run's start and end stay with the process that started it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import FlowArtifactsError
from .context import Run
from .stack_spec import StackSpec


@dataclass(frozen=True)
class RunTicket:
    """A started run as other processes of this machine take part in it: its id, project,
    pipeline, and its stack as configuration (a stack file's path, or a stack's settings)."""

    run_id: str
    project: str
    pipeline: str | None
    stack: StackSpec

    @classmethod
    def of(cls, run: Run) -> RunTicket:
        """The ticket of `run`, started or joined here. A stack other processes cannot open
        (artifacts in `memory://`, an in-memory catalog, credentials in a stack built in code
        rather than `${VAR}`s of a stack file) is refused with a `ConfigError`."""
        if not run.recording or run.status != "running" or run.stack is None:
            raise FlowArtifactsError(
                f"run {run.id} is not recording; start it (or join it) before handing it to "
                "other processes"
            )
        assert run.project is not None
        return cls(run.id, run.project, run.pipeline, StackSpec.for_workers(run.stack))

    def join(self) -> Run:
        """A `Run` of this process that joined the run (`Run.join`): its step runs are recorded
        under the run's id; the run itself is neither started nor finished here."""
        run = Run(
            project=self.project,
            pipeline=self.pipeline,
            run_id=self.run_id,
            stack=self.stack.opened(),
        )
        run.join()
        return run
