"""What calling a step does: find inputs, try the cache, call, store outputs, record the step run.

Order matters for what survives a failure: the step run is recorded as running before the
function is called, each output is committed as soon as it is stored, and the step run is then
marked completed or failed. A failure re-raises the user's exception itself; artifacts already
committed stay.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ..artifact import Artifact
from ..errors import FlowArtifactsError
from ..manifest import Manifest
from ..stack import Stack
from .arguments import PreparedCall, prepare_call
from .cache import CacheWarning, cache_key
from .context import Run, current_run, log
from .outputs import Outputs, check_output_options, commit_output, returned, split_outputs
from .step_run import StepRun, error_text, now

if TYPE_CHECKING:
    from .decorator import Step


def call_step(step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run `step` in the current run, or in an implicit run of its own outside any."""
    run = current_run()
    if run is None:
        with Run(name=step.name) as implicit:
            return call_in_run(step, implicit, args, kwargs)
    if not run.recording:
        return step.func(*args, **kwargs)
    return call_in_run(step, run, args, kwargs)


def call_in_run(
    step: Step,
    run: Run,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    step_run_name: str | None = None,
    resume: tuple[str, dict[str, Artifact]] | None = None,
) -> Any:
    """Call `step` as a step run of `run`. A worker passes the name the driver claimed, and
    for a new attempt of a step run left open by a lost one, `resume`: its id and the outputs
    it already committed, which are kept rather than written again."""
    stack, project = run.stack, run.project
    assert stack is not None and project is not None
    bound = step.signature.bind(*args, **kwargs)
    bound.apply_defaults()
    call = prepare_call(bound.arguments, run, fingerprint=step.cache)
    key = _key(step, project, call)
    task = None if step_run_name is not None else run.framework_task(step)
    record = StepRun(
        name=step_run_name or run.claim_name(task[0] if task else step.name),
        step=step.name,
        started=now(),
        params=call.params,
        inputs=list(call.inputs.values()),
        cache_key=key,
        id=task[1] if task else "",
    )
    if key is not None and run.cache and resume is None:
        reused = _reusable(stack, step, key)
        if reused is not None:
            return _record_hit(run, step, record, reused)
    if resume is None:
        committed = run.open_step_run(record, list(call.inputs))
    else:
        record.id, committed = resume
        run.add_step(record)
    run.emit_lineage(record)
    try:
        bound.arguments.update(call.arguments)
        result = step.func(*bound.args, **bound.kwargs)
        # a framework task run's name is new in every run; its output goes by the step's name
        outputs = split_outputs(step, step.name if task else record.name, result)
        check_output_options(stack, step, project, outputs)
        for name, obj in outputs:
            artifact = committed.get(name) or commit_output(
                stack,
                step,
                obj,
                name,
                project=project,
                run_id=run.id,
                step_run=record.name,
                step_run_id=record.id,
                pipeline=run.pipeline or "default",
                inputs=list(call.inputs),
            )
            record.outputs[name] = artifact
            run.add_output(record.name, name, obj, artifact)
    except BaseException as exc:
        error = error_text(exc, stack, with_traceback=True, arguments=bound.arguments)
        _finish(stack, record, "failed", error=error)
        run.emit_lineage(record)
        raise
    _finish(stack, record, "completed")
    run.emit_lineage(record)
    return returned(step, result, outputs)


def _key(step: Step, project: str, call: PreparedCall) -> str | None:
    if not step.cache:
        return None
    if call.fingerprint is None:
        warnings.warn(
            f"step {step.name!r} runs without its cache: {call.uncacheable}",
            CacheWarning,
            stacklevel=5,
        )
        return None
    return cache_key(step, project, call.fingerprint)


def _reusable(stack: Stack, step: Step, key: str) -> list[tuple[str, Artifact, Any]] | None:
    """(name, artifact, loaded object) of each output of an earlier call with this key, or None
    when there is none, or its outputs were deleted or can no longer be loaded."""
    chosen = _match_outputs(step, stack.catalog.cached_outputs(key))
    if chosen is None:
        return None
    reused = []
    for name, manifest in chosen:
        artifact = Artifact(manifest, store=stack.store, stack=stack)
        try:
            reused.append((name, artifact, artifact.load()))
        except FlowArtifactsError as exc:
            log.warning(
                "step %s: cached output %s cannot be loaded (%s); running the step",
                step.name,
                artifact,
                stack.scrub(str(exc)),
            )
            return None
    return reused


def _match_outputs(step: Step, manifests: list[Manifest]) -> list[tuple[str, Manifest]] | None:
    if step.several_outputs:
        by_name = {m.name: m for m in manifests}
        if sorted(by_name) != sorted(step.output_names) or len(manifests) != len(by_name):
            return None
        return [(name, by_name[name]) for name in step.output_names]
    if len(manifests) != 1:  # none: deleted since, or nothing was returned; run it
        return None
    return [(manifests[0].name, manifests[0])]


def _record_hit(
    run: Run, step: Step, record: StepRun, reused: list[tuple[str, Artifact, Any]]
) -> Any:
    """Record the step run as completed from the cache, in one catalog transaction."""
    record.cached = True
    run.record_cached_step_run(record, [a.id for a in record.inputs])
    run.emit_lineage(record)  # its start, as for any step run
    for name, artifact, obj in reused:
        key = name if step.several_outputs or step.outputs is not None else record.name
        record.outputs[key] = artifact
        run.add_output(record.name, key, obj, artifact)
    record.status, record.ended = "completed", now()
    run.emit_lineage(record)
    log.info("step %s completed (cached) in %.3fs", record.name, record.duration or 0.0)
    if step.several_outputs:
        return Outputs((name for name, _, _ in reused), (obj for _, _, obj in reused))
    return reused[0][2]


def _finish(
    stack: Stack, record: StepRun, status: str, *, error: str | None = None, cached: bool = False
) -> None:
    record.status, record.error, record.ended = status, error, now()
    try:
        stack.catalog.finish_step_run(
            record.id, status, error=error, cached=cached, journal=stack.store.journal
        )
    except Exception as failure:
        if status != "failed":
            raise
        # the step's own exception is on its way up; it matters more than this one
        log.warning(
            "could not record that step run %s failed: %s", record.name, stack.scrub(str(failure))
        )
    log.info(
        "step %s %s%s in %.3fs",
        record.name,
        status,
        " (cached)" if cached else "",
        record.duration or 0.0,
    )
