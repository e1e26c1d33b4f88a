"""`ArtifactDataset`: a Kedro dataset whose saves are flow_artifacts versions.

Which version a load gets, in order: the one this Kedro run saved (so two overlapping runs each
read their own; under ParallelRunner, whichever worker saved it, as the catalog says), then the
pinned one (`kedro run --load-versions ds:3` or `ds:prod`, else the entry's `load: {version: 3}`
or `load: {tag: prod}`), then the latest.

A run's hooks bind each dataset of its pipeline to its entry and the node that saves it (`bind`):
in async mode Kedro saves in a thread its save hook did not run in, whose context names no node,
or the dataset of an earlier load. Under ParallelRunner the dataset is pickled to worker
processes; the hooks hand it the run first (`hand_over`), so its pickled state carries the run's
ticket, and its binding, and a worker joins the run with it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from kedro.io.core import AbstractDataset, Version

import flow_artifacts as fa
from flow_artifacts.redact import is_secret_name

from . import runtime

log = logging.getLogger("flow_artifacts_kedro")
_LOAD_KEYS = {"version", "tag", "versions"}


class ArtifactDataset(AbstractDataset[Any, Any]):
    """A catalog entry stored as flow_artifacts artifacts of the Kedro project.

    Args:
        name: artifact name; default: the catalog entry's name (known inside a Kedro run; give
            `name` to use the entry outside one, e.g. `catalog.load` in a notebook).
        materializer: materializer id (e.g. `pandas.csv`); default: chosen by the object's type.
        materializer_options: options for that materializer (e.g. `{compression: zstd}` for
            Parquet), winning per option over the stack's `materializer_options`.
        load: a pin, `{version: 3}` or `{tag: prod}`, or several versions at once,
            `{versions: [1, 3, prod]}`, which loads a dict keyed by those versions or tags.
        labels: labels recorded on every saved version.
        metadata: JSON-able metadata recorded on every saved version (Kedro's `metadata` key).
        version: set by Kedro (the class is versioned): `--load-versions` pins come through it.
    """

    versioned = True
    """Kedro passes `Version(load, save)` to versioned datasets: that is how `--load-versions` pins
    reach it. The save version is not used: flow_artifacts numbers versions itself."""

    def __init__(
        self,
        *,
        name: str | None = None,
        materializer: str | None = None,
        materializer_options: Mapping[str, Any] | None = None,
        load: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        version: Version | None = None,
    ) -> None:
        self._name = name
        self._materializer = materializer
        self._options = _check_options(materializer_options)
        self._pin = _check_load(dict(load or {}))
        self._labels = {str(k): str(v) for k, v in (labels or {}).items()}
        self.metadata = dict(metadata or {})
        self._cli_pin = version.load if version is not None else None
        self._handoff: runtime.Handoff | None = None
        self._binding: runtime.Binding | None = None

    def bind(self, binding: runtime.Binding | None) -> runtime.Binding | None:
        """Set by the hooks while a run's pipeline uses this dataset (None once it ended);
        returns the binding it replaces (a run's inside a node of another, with this catalog)."""
        previous, self._binding = self._binding, binding
        return previous

    def hand_over(self, handoff: runtime.Handoff | None) -> None:
        """Set by the hooks while a ParallelRunner run uses this dataset: the run it travels
        with to worker processes (None once the run ended)."""
        self._handoff = handoff

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        handoff = state.get("_handoff")
        if handoff is not None:  # arrived in a worker: its run can be joined here
            runtime.arrived(handoff)

    # --- Kedro's dataset interface --------------------------------------------------------------

    def load(self) -> Any:
        kedro_run = runtime.run_of(self._handoff, self._binding)
        if "versions" in self._pin and self._cli_pin is None:
            found = {v: self._resolve(kedro_run, v, own=False) for v in self._pin["versions"]}
            return {v: self._loaded(kedro_run, artifact) for v, artifact in found.items()}
        return self._loaded(kedro_run, self._resolve(kedro_run, self._current_pin(), own=True))

    def save(self, data: Any) -> None:
        kedro_run = runtime.run_of(self._handoff, self._binding)
        node = self._saving_node()
        name = self._artifact_name()
        options: dict[str, Any] = {
            "materializer": self._materializer,
            "materializer_options": self._options or None,
            "labels": self._labels or None,
            "metadata": self.metadata or None,
        }
        if kedro_run is not None and node is not None:
            state = kedro_run.node(node)
            if state.step is None:
                raise fa.FlowArtifactsError(
                    f"node {node!r} saves {name!r} before its step run was started; "
                    "are the flow-artifacts-kedro hooks disabled?"
                )
            artifact = kedro_run.run.save_output(state.step, data, name, **options)
            kedro_run.remember(artifact)
        else:  # outside a Kedro run (a notebook, a script): a run of its own
            artifact = fa.materialize(
                data,
                name,
                f"kedro-{uuid.uuid4().hex[:12]}",
                "kedro",
                runtime.kedro_project(),
                **options,
            )
        log.info("saved dataset %s as %s", name, artifact.uri)

    def _describe(self) -> dict[str, Any]:
        return {
            "name": self._name,
            "materializer": self._materializer,
            "materializer_options": self._options or None,
            "load": self._pin or None,
            "load_version": self._cli_pin,
        }

    def _exists(self) -> bool:
        try:
            self._resolve(
                runtime.run_of(self._handoff, self._binding), self._current_pin(), own=True
            )
        except fa.ArtifactNotFound:
            return False
        return True

    # --- which version ----------------------------------------------------------------------------

    def _saving_node(self) -> str | None:
        """The node this save is an output of: the one its binding names (a dataset is the output
        of one node), else the one the save hook set in this thread's context."""
        binding = self._binding
        if binding is not None and binding.entry is None and not runtime.announced_save():
            raise fa.FlowArtifactsError(
                "this ArtifactDataset is registered under several catalog entries of the "
                "pipeline, and Kedro saves it in a thread where its save hook did not say which "
                "(kedro run --async): give each entry its own dataset, or run without --async"
            )
        if binding is not None and binding.producer is not None:
            return binding.producer
        return runtime.current_node()

    def _artifact_name(self) -> str:
        name = self._name or self._entry_name()
        if name is None:
            raise fa.ConfigError(
                "this ArtifactDataset has no name: give it `name:` in catalog.yml, or use it "
                "through a Kedro session, which names it after its catalog entry"
            )
        return name

    def _entry_name(self) -> str | None:
        """The catalog entry: as bound by the run, else as the hook set in this thread."""
        bound = self._binding.entry if self._binding is not None else None
        entry = bound or runtime.current_dataset()
        return runtime.safe_name(entry) if entry is not None else None

    def _current_pin(self) -> str | None:
        if self._cli_pin is not None:
            return str(self._cli_pin)
        if "version" in self._pin:
            return str(self._pin["version"])
        return self._pin.get("tag")

    def _resolve(self, kedro_run: runtime.KedroRun | None, pin: object, *, own: bool) -> Any:
        name = self._artifact_name()
        if own and kedro_run is not None:
            mine = kedro_run.own(name)
            if mine is not None:
                return mine
        project = kedro_run.project if kedro_run is not None else runtime.kedro_project()
        project = project or fa.get_stack().project
        stack = kedro_run.run.stack if kedro_run is not None else None
        return fa.get_artifact(f"store://{project}/{name}{_as_pin(pin)}", stack=stack)

    def _loaded(self, kedro_run: runtime.KedroRun | None, artifact: fa.Artifact) -> Any:
        node = runtime.current_node()
        if kedro_run is not None and node is not None:
            kedro_run.node(node).loaded[artifact.id] = artifact
        log.info("loaded dataset %s as %s", artifact.name, artifact.uri)
        return artifact.load()


def _as_pin(pin: object) -> str:
    """`3` or `"3"` -> `@3`; `"prod"` -> `:prod`; None -> the latest."""
    if pin is None:
        return ""
    text = str(pin)
    return f"@{int(text)}" if text.isdigit() else f":{text}"


def _check_load(load: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(load) - _LOAD_KEYS)
    if unknown or len(load) > 1:
        raise fa.ConfigError(
            f"ArtifactDataset load: {load!r} is not one of {{version: N}}, {{tag: NAME}}, "
            "{versions: [N, NAME, ...]}"
        )
    if "versions" in load and not isinstance(load["versions"], list):
        raise fa.ConfigError("ArtifactDataset load: versions must be a list of versions or tags")
    return load


def _check_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entry's materializer options; their names and values are checked by the materializer
    when saving, but a name like a credential is refused here, before Kedro shows the entry."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise fa.ConfigError(
            "ArtifactDataset materializer_options must be a mapping of option -> value, "
            "e.g. {compression: zstd}"
        )
    for name in options:
        if not isinstance(name, str) or is_secret_name(name):
            raise fa.ConfigError(
                "ArtifactDataset materializer_options: option names are materializer options "
                "(e.g. compression), never credentials"
            )
    return dict(options)
