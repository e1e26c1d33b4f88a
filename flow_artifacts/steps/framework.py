"""The part of a run that framework integrations use: step runs of tasks that are not `@step`
functions (a Kedro node, a Prefect task run), and step runs that carry a framework task run's
name and id."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..naming import validate_new_name
from .step_run import StepRun, error_text, now

if TYPE_CHECKING:
    from ..artifact import Artifact
    from ..catalog.run_facade import RunBatch
    from ..stack import Stack
    from .decorator import Step

log = logging.getLogger("flow_artifacts.steps")


class FrameworkSteps:
    """Mixed into `Run`: what an integration calls to record its framework's tasks."""

    id: str
    pipeline: str | None
    steps: list[StepRun]
    _task_step_runs: dict[str, StepRun]
    """The step runs whose ids a framework gave, by id: a retry finds its earlier attempt."""

    if TYPE_CHECKING:

        def _recording_stack(self) -> tuple[Stack, str]: ...
        def claim_name(self, step_name: str) -> str: ...
        def add_step(self, record: StepRun) -> None: ...
        def add_output(self, step_run: str, name: str, obj: Any, artifact: Artifact) -> None: ...
        def emit_lineage(self, step_run: StepRun | None = None) -> None: ...
        def _deferred(self) -> RunBatch | None: ...
        def commit_deferred(self) -> None: ...

    def framework_task(self, step: Step) -> tuple[str, str] | None:
        """(name, id) of the framework task run this call of `step` is, for its step run to
        carry; None for a step run named after its step. A `Run` of `fa.run` has none; an
        integration's run (a Prefect flow run's) overrides this."""
        return None

    def open_step_run(self, record: StepRun, inputs: list[str]) -> dict[str, Artifact]:
        """Record `record` as running and return the outputs it already has. A record whose
        id is given is a framework task run: the first time, a step run with that id; again (the
        framework retrying its task run), that step run's next attempt, keeping its committed
        outputs."""
        stack, project = self._recording_stack()
        earlier = self._task_step_runs.get(record.id) if record.id else None
        if earlier is not None:
            self.commit_deferred()  # a retry reads the step run's row
            stack.catalog.retry_step_run(record.id, journal=stack.store.journal)
            record.name = earlier.name
            self._task_step_runs[record.id] = record
            self.steps.remove(earlier)
            self.add_step(record)
            return dict(earlier.outputs)
        self._recorded(record, stack.catalog.start_step_run, project, inputs, stack)
        return {}

    def record_cached_step_run(self, record: StepRun, inputs: list[str]) -> None:
        """Record `record`, a cache hit, as completed at once. A framework task run seen
        before takes `open_step_run`'s way instead: the hit is that step run's next attempt."""
        stack, project = self._recording_stack()
        if record.id and record.id in self._task_step_runs:
            self.open_step_run(record, inputs)
            stack.catalog.finish_step_run(
                record.id, "completed", cached=True, journal=stack.store.journal
            )
            return
        assert record.cache_key is not None
        self._recorded(record, stack.catalog.record_cached_step_run, project, inputs, stack)

    def _recorded(
        self,
        record: StepRun,
        write: Callable[..., str],
        project: str,
        inputs: list[str],
        stack: Stack,
    ) -> None:
        """Record `record` through the catalog's `write` (a start, or a finished cache hit) and
        keep it; a framework task run's record is also remembered by its id, for a retry."""
        given_id = bool(record.id)
        record.id = write(
            project,
            self.id,
            record.name,
            params=record.params,
            cache_key=record.cache_key,
            inputs=inputs,
            step_run_id=record.id or None,
            journal=stack.store.journal,
            pipeline=self.pipeline,  # for a run row a joined process creates
            batch=self._deferred(),
        )
        self.commit_deferred()  # with what waited for it: the step's outputs need its row
        if given_id:
            self._task_step_runs[record.id] = record
        self.add_step(record)

    def start_step(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        inputs: Iterable[Artifact | str] = (),
        step_run_id: str | None = None,
    ) -> StepRun:
        """Record a framework's task (a Kedro node, a Prefect task run...) as a running step run.

        Its name is made unique in the run as a step's is (`train`, then `train_2`); `params` are
        recorded as a step's are (secrets masked, large or non-JSON values described); `inputs`,
        artifacts or references, are what it consumed. `step_run_id` (a framework's task run id)
        is the step run's id; given again, it is that step run's next attempt (a retry).
        Finish it with `finish_step`.
        """
        from .arguments import describe_param

        stack, _ = self._recording_stack()
        validate_new_name(name, "step")
        consumed = self._own_inputs(inputs, stack)
        record = StepRun(
            name=self.claim_name(name),
            step=name,
            started=now(),
            params={str(k): describe_param(str(k), v) for k, v in (params or {}).items()},
            inputs=list(consumed.values()),
            id=step_run_id or "",
        )
        record.outputs.update(self.open_step_run(record, list(consumed)))
        self.emit_lineage(record)
        return record

    def save_output(self, step_run: StepRun, obj: Any, name: str, **options: Any) -> Artifact:
        """Materialize `obj` as output `name` of `step_run`, with the step run's inputs as its
        lineage. `options` are `fa.materialize`'s (`labels`, `materializer`, `metadata`...);
        `inputs` given there are added to the step run's."""
        from ..api import materialize

        stack, project = self._recording_stack()
        inputs = [*step_run.inputs, *self._own_inputs(options.pop("inputs", ()), stack).values()]
        artifact = materialize(
            obj,
            name,
            self.id,
            step_run.name,
            project,
            inputs=inputs,
            pipeline=self.pipeline or "default",
            step_run_id=step_run.id,
            stack=stack,
            **options,
        )
        step_run.outputs[name] = artifact
        self.add_output(step_run.name, name, obj, artifact)
        return artifact

    def finish_step(self, step_run: StepRun, error: BaseException | str | None = None) -> None:
        """Record `step_run` as completed, or as failed with `error` (an exception, or the
        framework's text of its failure; masked, bounded)."""
        stack, _ = self._recording_stack()
        step_run.status = "completed" if error is None else "failed"
        step_run.error = None if error is None else error_text(error, stack, with_traceback=True)
        step_run.ended = now()
        stack.catalog.finish_step_run(
            step_run.id,
            step_run.status,
            error=step_run.error,
            journal=stack.store.journal,
            batch=self._deferred(),
        )
        self.emit_lineage(step_run)

    def _own_inputs(self, refs: Iterable[Artifact | str], stack: Stack) -> dict[str, Artifact]:
        """Inputs by id; one from another store is left out, as for a step's arguments."""
        from ..api import resolve

        found: dict[str, Artifact] = {}
        for ref in refs:
            artifact = resolve(ref, stack)
            if artifact.store.url != stack.store.url:
                log.warning(
                    "input %s is from another store than run %s's; not recorded as lineage",
                    artifact,
                    self.id,
                )
                continue
            found.setdefault(artifact.id, artifact)
        return found
