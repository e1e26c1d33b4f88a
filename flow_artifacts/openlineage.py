"""OpenLineage run events emitted as steps run: START, then COMPLETE or FAIL, for every step run
and for the run that is their parent.

Turned on by a stack's `openlineage` setting. Events go through the `openlineage-python` client
(`pip install "flow-artifacts[openlineage]"`), imported on the first event: its transport is the
setting's `transport`, else the client's own configuration (`OPENLINEAGE_URL`,
`OPENLINEAGE__TRANSPORT__*`, `OPENLINEAGE_CONFIG`, `openlineage.yml`), so any of its transports
works. Datasets are named by the store (namespace: its URL, without credentials) and
`<project>/<name>`, with the facets of `catalog.lineage.dataset_facets`. Lineage is an
observer: a failure to build or send an event is logged, never raised into a step.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .catalog.lineage import PRODUCER, dataset_facets, standard_facet_base
from .failures import split_error
from .redact import redact_url

if TYPE_CHECKING:
    from .artifact import Artifact
    from .stack import Stack
    from .steps.context import Run
    from .steps.step_run import StepRun

log = logging.getLogger("flow_artifacts.openlineage")
RUN_ID_NAMESPACE = uuid.UUID("5b0f3c52-7f53-4d0b-9a52-3f1c6b1b5f0e")
"""Run ids that are not UUIDs (a Kedro session id) become UUIDs derived from it under this."""
_STATES = {"running": "START", "completed": "COMPLETE", "failed": "FAIL"}


class LineageEmitter:
    """Sends the events of one run; its client is made on the first event."""

    def __init__(self, settings: Mapping[str, Any], stack: Stack) -> None:
        self._settings = dict(settings)
        self._namespace = str(settings.get("namespace") or "")
        self._store = redact_url(stack.store.url)
        self._client: Any = None
        self._lock = threading.Lock()

    def run_event(self, run: Run) -> None:
        """START when the run begins, COMPLETE or FAIL when it ends."""
        self._emit(
            lambda: self._event(
                run,
                _STATES.get(run.status, "START"),
                when=run.ended or run.started,
                run_id=parent_run_id(run),
                job=self._parent_job(run),
                facets=_error_facet(run.error),
            )
        )

    def step_event(self, run: Run, step_run: StepRun) -> None:
        """START for a running step run, COMPLETE or FAIL for a finished one."""

        def build() -> dict[str, Any]:
            facets: dict[str, Any] = {
                "parent": {
                    **standard_facet_base("1-2-0", "ParentRunFacet"),
                    "run": {"runId": parent_run_id(run)},
                    "job": self._parent_job(run),
                },
                **_error_facet(step_run.error),
            }
            return self._event(
                run,
                _STATES.get(step_run.status, "START"),
                when=step_run.ended or step_run.started,
                run_id=step_run.id,
                job={"namespace": self._job_namespace(run), "name": self._step_job(run, step_run)},
                facets=facets,
                inputs=step_run.inputs,
                outputs=step_run.outputs.values() if step_run.status != "running" else (),
            )

        self._emit(build)

    # --- events -----------------------------------------------------------------------------------

    def _event(
        self,
        run: Run,
        state: str,
        *,
        when: datetime | None,
        run_id: str,
        job: dict[str, str],
        facets: dict[str, Any],
        inputs: Iterable[Artifact] = (),
        outputs: Iterable[Artifact] = (),
    ) -> dict[str, Any]:
        return {
            "eventType": state,
            "eventTime": (when or datetime.now(timezone.utc)).isoformat(),
            "run": {"runId": run_id, "facets": facets},
            "job": job,
            "inputs": [self._dataset(a) for a in inputs],
            "outputs": [self._dataset(a) for a in outputs],
        }

    def _dataset(self, artifact: Artifact) -> dict[str, Any]:
        m = artifact.manifest
        return {
            "namespace": self._store,
            "name": f"{m.project}/{m.name}",
            "facets": dataset_facets(m),
        }

    def _job_namespace(self, run: Run) -> str:
        return self._namespace or run.project or "default"

    def _parent_job(self, run: Run) -> dict[str, str]:
        return {"namespace": self._job_namespace(run), "name": run.pipeline or run.name or "run"}

    def _step_job(self, run: Run, step_run: StepRun) -> str:
        return f"{run.pipeline or run.name or 'run'}.{step_run.step}"

    # --- sending ----------------------------------------------------------------------------------

    def _emit(self, build: Any) -> None:
        try:
            event = build()
            client, classes = self._client_and_classes()
            client.emit(_as_run_event(event, classes))
        except Exception as exc:  # lineage never fails a step
            log.warning("could not emit an OpenLineage event: %s", exc)

    def _client_and_classes(self) -> tuple[Any, Any]:
        with self._lock:
            if self._client is None:
                try:
                    from openlineage.client import OpenLineageClient
                except ImportError:
                    raise RuntimeError(
                        "the openlineage setting needs openlineage-python: "
                        'pip install "flow-artifacts[openlineage]"'
                    ) from None
                transport = self._settings.get("transport")
                config = {"transport": dict(transport)} if transport else None
                self._client = OpenLineageClient(config=config) if config else OpenLineageClient()
            from openlineage.client import event_v2

            return self._client, event_v2


def emitter_for(stack: Stack) -> LineageEmitter | None:
    """The emitter of a run on `stack`, or None when its stack emits no OpenLineage events."""
    settings = stack.openlineage
    return None if settings is None else LineageEmitter(settings, stack)


def parent_run_id(run: Run) -> str:
    """The run's id as a UUID, as OpenLineage wants it: itself when it is one, else derived."""
    try:
        return str(uuid.UUID(run.id))
    except ValueError:
        return str(uuid.uuid5(RUN_ID_NAMESPACE, f"{run.project}/{run.id}"))


def _error_facet(error: str | None) -> dict[str, Any]:
    """The recorded error (already masked and bounded), if any: its message, and a step's
    traceback as the facet's stack trace."""
    if not error:
        return {}
    message, trace = split_error(error)
    return {
        "errorMessage": {
            **standard_facet_base("1-0-1", "ErrorMessageRunFacet"),
            "message": message,
            "programmingLanguage": "python",
            **({"stackTrace": trace} if trace else {}),
        }
    }


def _as_run_event(event: dict[str, Any], ol: Any) -> Any:
    """The client's `RunEvent` for one event built as plain JSON (facets stay plain mappings)."""
    return ol.RunEvent(
        eventType=ol.RunState[event["eventType"]],
        eventTime=event["eventTime"],
        run=ol.Run(runId=event["run"]["runId"], facets=event["run"]["facets"]),
        job=ol.Job(namespace=event["job"]["namespace"], name=event["job"]["name"]),
        producer=PRODUCER,
        inputs=[ol.InputDataset(**d) for d in event["inputs"]],
        outputs=[ol.OutputDataset(**d) for d in event["outputs"]],
    )
