"""`FlowArtifactsIOManager`: Dagster outputs stored as flow_artifacts artifacts.

The Dagster run is the run and the op's step the step. Every artifact carries its Dagster run id
(and partition) as labels, so "the upstream artifact of this run" is an indexed lookup that works
whichever process ran the upstream step; the artifacts a step loaded become the lineage of what it
stores, remembered in the process that runs the step (loads and stores of one step share it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import dagster as dg

import flow_artifacts as fa

from .recorder import recorder_of, safe, start_recording
from .run_end import record_run_end

RUN_LABEL = "dagster_run_id"
PARTITION_LABEL = "dagster_partition"
_MAX_STEPS_REMEMBERED = 1024


class FlowArtifactsIOManager(dg.ConfigurableIOManager):
    """Stores each output as the next version of `<project>/<asset key>` (or `<op>.<output>`).

    Inputs load, in order: the upstream artifact this run stored, else the version or tag pinned
    in `pins` (by artifact name), else the latest. A partitioned output is stored per partition,
    labelled with it and with it in its path; a load of several partitions returns a dict
    keyed by partition.
    """

    stack: str | None = None
    """A stack file, `path.yaml` or `path.yaml#name`; default: the active stack."""
    project: str | None = None
    """Default: the stack's project."""
    pins: dict[str, str] = {}
    """Artifact name -> version number or tag to load when this run did not store it."""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        stack = self._stack()
        start_recording(context, stack, self._project(stack))

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None and context.dagster_type.is_nothing:
            return
        stack = self._stack()
        labels = {RUN_LABEL: context.run_id}
        step = safe(context.step_key)
        if context.has_asset_partitions:
            keys = context.asset_partition_keys
            if len(keys) != 1:
                raise fa.ConfigError(
                    f"{context.step_key} stores {len(keys)} partitions in one output; "
                    "FlowArtifactsIOManager stores one partition per run (backfill one run each)"
                )
            labels[PARTITION_LABEL] = keys[0]
            step = f"{step}.{safe(keys[0])}"
        recorder = recorder_of(context.run_id)
        step_run = recorder.step_run(context.step_key) if recorder is not None else None
        artifact = fa.materialize(
            obj,
            _name(context),
            context.run_id,
            step_run.name if step_run is not None else step,
            self._project(stack),
            inputs=_LOADED.get((context.run_id, context.step_key)),
            labels=labels,
            pipeline=safe(context.job_name),
            step_run_id=step_run.id if step_run is not None else None,
            stack=stack,
        )
        context.add_output_metadata(_output_metadata(artifact))
        context.log.info(f"stored {context.step_key} output as {artifact.uri}")

    def load_input(self, context: dg.InputContext) -> Any:
        upstream = context.upstream_output
        if upstream is None:
            raise fa.ConfigError(
                f"input {context.name!r} has no upstream output for FlowArtifactsIOManager to load"
            )
        stack = self._stack()
        name = _name(upstream)
        run_id = context.step_context.run_id
        if context.has_asset_partitions:
            keys = context.asset_partition_keys
            found = {key: self._find(stack, name, run_id, key) for key in keys}
            loaded = {key: self._loaded(context, artifact) for key, artifact in found.items()}
            return loaded if len(keys) > 1 else loaded[keys[0]]
        return self._loaded(context, self._find(stack, name, run_id, None))

    # --- which version ---------------------------------------------------------------------------

    def _find(self, stack: fa.Stack, name: str, run_id: str, partition: str | None) -> fa.Artifact:
        project = self._project(stack)
        wanted = {RUN_LABEL: run_id}
        if partition is not None:
            wanted[PARTITION_LABEL] = partition
        for artifact in fa.list_artifacts(project, name=name, labels=wanted, stack=stack):
            return artifact  # this run's
        pin = self.pins.get(name)
        if pin is not None and partition is None:
            suffix = f"@{pin}" if pin.isdigit() else f":{pin}"
            return fa.get_artifact(f"store://{project}/{name}{suffix}", stack=stack)
        if partition is not None:
            partitioned = {PARTITION_LABEL: partition}
            for artifact in fa.list_artifacts(project, name=name, labels=partitioned, stack=stack):
                return artifact  # the partition's latest
            raise fa.ArtifactNotFound(f"no artifact {project}/{name} for partition {partition!r}")
        return fa.get_artifact(f"store://{project}/{name}", stack=stack)

    def _loaded(self, context: dg.InputContext, artifact: fa.Artifact) -> Any:
        step = context.step_context
        _LOADED.add((step.run_id, step.step.key), artifact.id)
        context.log.info(f"loading input {context.name} from {artifact.uri}")
        return artifact.load()

    def record_run_end(self, instance: dg.DagsterInstance, run_id: str) -> str | None:
        """Record how Dagster run `run_id` ended, from Dagster's `instance`, once it ended: for
        a run whose steps ran in processes of their own (the multiprocess executor), whose end
        no step process sees. Call it after `execute_job`, or from a run status sensor; the
        run's status afterwards (None if the run recorded nothing)."""
        stack = self._stack()
        return record_run_end(instance, run_id, stack, self._project(stack))

    def _stack(self) -> fa.Stack:
        return _open_stack(self.stack) if self.stack else fa.get_stack()

    def _project(self, stack: fa.Stack) -> str:
        return self.project or stack.project


class _Loads:
    """Artifact ids each step (run id, step key) loaded, for the lineage of what it stores."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_step: OrderedDict[tuple[str, str], list[str]] = OrderedDict()

    def add(self, step: tuple[str, str], artifact_id: str) -> None:
        with self._lock:
            ids = self._by_step.setdefault(step, [])
            if artifact_id not in ids:
                ids.append(artifact_id)
            self._by_step.move_to_end(step)
            while len(self._by_step) > _MAX_STEPS_REMEMBERED:
                self._by_step.popitem(last=False)

    def get(self, step: tuple[str, str]) -> list[str]:
        with self._lock:
            return list(self._by_step.get(step, ()))


_LOADED = _Loads()


@lru_cache(maxsize=16)
def _open_stack(spec: str) -> fa.Stack:
    path, _, name = spec.partition("#")
    return fa.Stack.from_yaml(path, name or None)


def _name(context: dg.OutputContext) -> str:
    """The asset key joined by dots, else `<op>` for an op's single `result`, else `<op>.<out>`."""
    if context.has_asset_key:
        return safe(".".join(context.asset_key.path))
    op = context.op_def.name
    return safe(op if context.name == "result" else f"{op}.{context.name}")


def _output_metadata(artifact: fa.Artifact) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "uri": artifact.uri,
        "path": dg.MetadataValue.path(artifact.path),
        "version": artifact.version,
        "checksum": artifact.checksum,
        "materializer": artifact.materializer,
        "size": artifact.size,
    }
    details = artifact.metadata
    if isinstance(details.get("rows"), int):
        metadata["dagster/row_count"] = details["rows"]
    schema = details.get("schema")
    if isinstance(schema, list) and all(isinstance(c, dict) and "name" in c for c in schema):
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[
                dg.TableColumn(name=str(c["name"]), type=str(c.get("type", ""))) for c in schema
            ]
        )
    return metadata
