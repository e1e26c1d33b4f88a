"""Kedro hooks: a session run is a flow_artifacts run, each node a step run.

A node's step run starts once its inputs are loaded (so they are its recorded inputs) and ends
once its last output is saved, since Kedro saves outputs after `after_node_run`; a node that
fails, or whose output cannot be saved, is recorded as failed with the error. The run's start
and each node's end are committed with the next node's start, or with the run's end
(`Run.defer_writes`): one catalog transaction per node, plus its outputs'.

Each `ArtifactDataset` of the pipeline is bound to its entry and the node that saves it until the
run ends: in async mode (`kedro run --async`) Kedro saves in threads its save hook did not run in.

Under ParallelRunner (Kedro gives it a `SharedMemoryDataCatalog`) nodes run in worker processes,
where Kedro calls the node and dataset hooks of a hook manager it makes there. The run starts at
once, is handed to the catalog's `ArtifactDataset`s (their pickled state carries its ticket), and
each worker joins it: its step runs and outputs are committed from there. The run's end, and the
failure of any step run a failing worker left open, are recorded here.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import SharedMemoryDataCatalog

import flow_artifacts as fa

from . import runtime
from .dataset import ArtifactDataset

log = logging.getLogger("flow_artifacts_kedro")


@dataclass
class _Open:
    """A run begun here, until Kedro's closing hook (or the next run, see `_end_cut_short`)."""

    exits: ExitStack
    caller: FrameType | None
    """The frame of the `KedroSession.run` that began it (None: begun another way). While it
    executes the run is in progress; once it is off the stack, the closing hook never came."""
    thread: int = field(default_factory=threading.get_ident)


class FlowArtifactsHooks:
    """Registered by the `kedro.hooks` entry point as `hooks`; one instance serves every session."""

    def __init__(self) -> None:
        self._exits: dict[str, _Open] = {}

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        executing, caller = _walk_stack()
        self._end_cut_short(executing)
        runtime.show_versions()
        names = run_params.get("pipeline_names") or ["__default__"]
        run = fa.Run(
            project=runtime.kedro_project(),
            name=f"kedro run {' '.join(names)}",
            pipeline=runtime.safe_name("+".join(names)),
            run_id=runtime.safe_name(run_params["run_id"]),
        )
        parallel = isinstance(catalog, SharedMemoryDataCatalog)
        if not parallel:  # the run's start, and each node's end, wait for the next node's start
            run.defer_writes()
        exits = ExitStack()
        exits.enter_context(run)
        kedro_run = runtime.KedroRun(run)
        runtime.begin(kedro_run)
        exits.callback(runtime.end, kedro_run)
        try:
            datasets = _artifact_datasets(pipeline, catalog)
            _bind(kedro_run, pipeline, datasets, exits)
            if parallel and run.recording:
                _hand_over(kedro_run, datasets, exits)
        except Exception as error:  # Kedro calls no other hook: the run ends here
            exits.__exit__(type(error), error, error.__traceback__)
            raise
        self._exits[run.id] = _Open(exits, caller)
        log.info("flow-artifacts run %s in project %s", run.id, run.project)

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str, node: Any) -> None:
        runtime.at(node.name, dataset_name)

    @hook_impl
    def before_node_run(self, node: Any, inputs: dict[str, Any], run_id: str | None) -> None:
        kedro_run = _run_of(run_id)
        if kedro_run is None:
            return
        runtime.within(kedro_run)
        runtime.at(node.name, None)
        state = kedro_run.node(node.name)
        state.step = kedro_run.run.start_step(
            runtime.safe_name(node.name), params=_params(inputs), inputs=state.loaded.values()
        )
        if not node.outputs:
            kedro_run.run.finish_step(state.step)

    @hook_impl
    def on_node_error(self, error: Exception, node: Any, run_id: str | None) -> None:
        self._fail_node(node.name, error, _run_of(run_id))

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, node: Any) -> None:
        runtime.at(node.name, dataset_name, saving=True)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Any) -> None:
        kedro_run = runtime.current()
        if kedro_run is None:
            return
        state = kedro_run.node(node.name)
        state.saved.add(dataset_name)
        if state.step is not None and state.step.status == "running":
            if state.saved >= set(node.outputs):
                kedro_run.run.finish_step(state.step)

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any]) -> None:
        self._close(run_params, None)

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any]) -> None:
        kedro_run = runtime.current()
        if kedro_run is not None:  # a save failed after the node ran, or the runner did
            for name, state in kedro_run.nodes.items():
                if state.step is not None and state.step.status == "running":
                    self._fail_node(name, error, kedro_run)
            if kedro_run.handoff is not None:
                _fail_left_open(kedro_run, error)
        self._close(run_params, error)

    def _fail_node(
        self, node_name: str, error: BaseException, kedro_run: runtime.KedroRun | None
    ) -> None:
        if kedro_run is None:
            return
        state = kedro_run.node(node_name)
        if state.step is not None and state.step.status == "running":
            kedro_run.run.finish_step(state.step, error)

    def _close(self, run_params: dict[str, Any], error: BaseException | None) -> None:
        opened = self._exits.pop(runtime.safe_name(run_params["run_id"]), None)
        if opened is None:
            return
        if error is None:
            opened.exits.close()
        else:
            opened.exits.__exit__(type(error), error, error.__traceback__)

    def _end_cut_short(self, executing: set[int]) -> None:
        """End, as interrupted, the runs this thread began whose `KedroSession.run` is no longer
        executing (its frame's id is not in `executing`): Kedro calls no hook when a Ctrl-C
        (`KeyboardInterrupt`) ends a run, which would otherwise stay running, and this thread's
        current run, for the process's life. A run that began this one from inside a node is
        still on the stack, and stays."""
        here = threading.get_ident()
        for run_id, opened in list(self._exits.items()):
            if opened.thread != here or opened.caller is None or id(opened.caller) in executing:
                continue
            del self._exits[run_id]
            log.warning("flow-artifacts run %s was cut short (Ctrl-C?): recorded as failed", run_id)
            interrupted = KeyboardInterrupt("the Kedro run was interrupted")
            try:
                opened.exits.__exit__(KeyboardInterrupt, interrupted, None)
            except Exception:  # the new run goes on; the old one reads crashed in time
                log.warning("could not record the end of flow-artifacts run %s", run_id)


def _walk_stack() -> tuple[set[int], FrameType | None]:
    """One walk of this thread's stack, from the hook's frame outwards: the ids of its frames
    (whose `KedroSession.run`s still execute), and the frame of the `KedroSession.run` calling
    the hook, if a session runs it. Ids, not frames, are kept: no frame is held beyond that
    one, which the run needs."""
    from kedro.framework.session import KedroSession

    code = KedroSession.run.__code__
    executing: set[int] = set()
    session: FrameType | None = None
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        executing.add(id(frame))
        if session is None and frame.f_code is code:
            session = frame
        frame = frame.f_back
    return executing, session


def _run_of(run_id: str | None) -> runtime.KedroRun | None:
    """The run of a node hook: the run with Kedro's `run_id` (the session id), begun in this
    process or, in a ParallelRunner worker, joined here; else this thread's. By id first: a run
    a Ctrl-C cut short stays active in the process (Kedro calls no hook for it)."""
    found = runtime.joined(runtime.safe_name(run_id)) if run_id is not None else None
    return found if found is not None else runtime.current()


def _artifact_datasets(pipeline: Any, catalog: Any) -> dict[str, ArtifactDataset]:
    """The pipeline's `ArtifactDataset`s by entry. Kedro resolves the same datasets (dataset
    factories too) right after this hook, so resolving them here changes nothing else."""
    datasets = {name: catalog.get(name) for name in sorted(pipeline.datasets()) if name in catalog}
    return {name: d for name, d in datasets.items() if isinstance(d, ArtifactDataset)}


def _bind(
    kedro_run: runtime.KedroRun,
    pipeline: Any,
    datasets: dict[str, ArtifactDataset],
    exits: ExitStack,
) -> None:
    """Bind each dataset to its entry and the node that saves it (a dataset is the output of
    one node at most) until the run ends. An instance under several entries (a catalog built
    in code) is bound to none of them: which one a save is for, only the save hook tells."""
    producers = {output: n.name for n in pipeline.nodes for output in n.outputs}
    entries: dict[int, list[str]] = {}
    for name, dataset in datasets.items():
        entries.setdefault(id(dataset), []).append(name)
    previous: list[tuple[ArtifactDataset, runtime.Binding | None]] = []
    for names in entries.values():
        dataset = datasets[names[0]]
        only = names[0] if len(names) == 1 else None
        binding = runtime.Binding(kedro_run.run.id, only, producers.get(only) if only else None)
        previous.append((dataset, dataset.bind(binding)))

    def unbind() -> None:
        for dataset, binding in previous:
            dataset.bind(binding)

    exits.callback(unbind)


def _hand_over(
    kedro_run: runtime.KedroRun, datasets: dict[str, ArtifactDataset], exits: ExitStack
) -> None:
    """Give the pipeline's `ArtifactDataset`s the run's ticket, to carry to the worker
    processes, until the run ends."""
    kedro_run.handoff = runtime.Handoff(fa.RunTicket.of(kedro_run.run), os.getpid())
    carriers = list({id(d): d for d in datasets.values()}.values())
    for dataset in carriers:
        dataset.hand_over(kedro_run.handoff)

    def take_back() -> None:
        for dataset in carriers:
            dataset.hand_over(None)

    exits.callback(take_back)


def _fail_left_open(kedro_run: runtime.KedroRun, error: BaseException) -> None:
    """The step runs of the run's workers still open when it failed: a node whose output could
    not be saved (Kedro calls no hook there), or whose worker died. They failed with the run."""
    run = kedro_run.run
    assert run.stack is not None
    try:
        for record in run.stack.catalog.step_runs_of_run(kedro_run.project, run.id):
            if record.status in ("running", "crashed"):
                left = fa.StepRun(
                    name=record.step,
                    step=record.step,
                    started=record.started,
                    params=dict(record.params),
                    inputs=[],
                    id=record.id,
                )
                run.finish_step(left, error)
    except Exception as failure:  # the run's own failure is what Kedro raises, and is recorded
        log.warning(
            "could not record the nodes left open by run %s: %s",
            run.id,
            run.stack.scrub(str(failure)),
        )


def _params(inputs: dict[str, Any]) -> dict[str, Any]:
    """The node's Kedro parameters: `params:lr` as `lr`, the whole `parameters` dict as it is."""
    found: dict[str, Any] = {}
    for key, value in inputs.items():
        if key == "parameters":
            found["parameters"] = value
        elif key.startswith("params:"):
            found[key[len("params:") :]] = value
    return found


hooks = FlowArtifactsHooks()
