"""Kedro hooks: a session run is a flow_artifacts run, each node a step run.

A node's step run starts once its inputs are loaded (so they are its recorded inputs) and ends
once its last output is saved, since Kedro saves outputs after `after_node_run`; a node that
fails, or whose output cannot be saved, is recorded as failed with the error. The run's start
and each node's end are committed with the next node's start, or with the run's end
(`Run.defer_writes`): one catalog transaction per node, plus its outputs'.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import Any

from kedro.framework.hooks import hook_impl

import flow_artifacts as fa

from . import runtime

log = logging.getLogger("flow_artifacts_kedro")


class FlowArtifactsHooks:
    """Registered by the `kedro.hooks` entry point as `hooks`; one instance serves every session."""

    def __init__(self) -> None:
        self._exits: dict[str, ExitStack] = {}

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        if logging.getLogger("flow_artifacts_kedro").level == logging.NOTSET:
            # like Kedro's own loggers: which version each dataset had is shown unless configured
            logging.getLogger("flow_artifacts_kedro").setLevel(logging.INFO)
        names = run_params.get("pipeline_names") or ["__default__"]
        run = fa.Run(
            project=runtime.kedro_project(),
            name=f"kedro run {' '.join(names)}",
            pipeline=runtime.safe_name("+".join(names)),
            run_id=runtime.safe_name(run_params["run_id"]),
        )
        run.defer_writes()  # the run's start, and each node's end, wait for the next node's start
        exits = ExitStack()
        exits.enter_context(run)
        kedro_run = runtime.KedroRun(run)
        runtime.begin(kedro_run)
        exits.callback(runtime.end, kedro_run)
        self._exits[run.id] = exits
        log.info("flow-artifacts run %s in project %s", run.id, run.project)

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str, node: Any) -> None:
        runtime.at(node.name, dataset_name)

    @hook_impl
    def before_node_run(self, node: Any, inputs: dict[str, Any]) -> None:
        kedro_run = runtime.current()
        if kedro_run is None:
            return
        runtime.at(node.name, None)
        state = kedro_run.node(node.name)
        state.step = kedro_run.run.start_step(
            runtime.safe_name(node.name), params=_params(inputs), inputs=state.loaded.values()
        )
        if not node.outputs:
            kedro_run.run.finish_step(state.step)

    @hook_impl
    def on_node_error(self, error: Exception, node: Any) -> None:
        self._fail_node(node.name, error)

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, node: Any) -> None:
        runtime.at(node.name, dataset_name)

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
                    self._fail_node(name, error)
        self._close(run_params, error)

    def _fail_node(self, node_name: str, error: BaseException) -> None:
        kedro_run = runtime.current()
        if kedro_run is None:
            return
        state = kedro_run.node(node_name)
        if state.step is not None and state.step.status == "running":
            kedro_run.run.finish_step(state.step, error)

    def _close(self, run_params: dict[str, Any], error: BaseException | None) -> None:
        exits = self._exits.pop(runtime.safe_name(run_params["run_id"]), None)
        if exits is None:
            return
        if error is None:
            exits.close()
        else:
            exits.__exit__(type(error), error, error.__traceback__)


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
