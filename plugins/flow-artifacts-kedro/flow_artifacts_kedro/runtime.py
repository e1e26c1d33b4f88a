"""What a Kedro run being recorded knows: its flow_artifacts run, each node's step run and loads.

Kedro calls the dataset hooks in the thread that then loads or saves, so the node and dataset at
hand live in context variables set by those hooks. The run itself is set in the session's thread;
runners that use worker threads (ThreadRunner) do not inherit it, so the process-wide list of
active runs answers there when exactly one run is active.
"""

from __future__ import annotations

import re
import threading
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

import flow_artifacts as fa

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def safe_name(text: str) -> str:
    """A Kedro name (node, pipeline) as a flow_artifacts name: other characters become `_`."""
    cleaned = _UNSAFE.sub("_", text).replace("..", "_").lstrip(".")
    return cleaned[:200] or "_"


def kedro_project() -> str | None:
    """The configured Kedro project's package name: the flow_artifacts project of its artifacts."""
    from kedro.framework.project import PACKAGE_NAME

    return safe_name(PACKAGE_NAME) if PACKAGE_NAME else None


@dataclass
class NodeState:
    """One node in one run: the artifacts it loaded, its step run, the outputs it saved."""

    loaded: dict[str, fa.Artifact] = field(default_factory=dict)
    step: fa.StepRun | None = None
    saved: set[str] = field(default_factory=set)


class KedroRun:
    """A Kedro session run recorded as a flow_artifacts run."""

    def __init__(self, run: fa.Run) -> None:
        self.run = run
        self.nodes: dict[str, NodeState] = {}
        self.produced: dict[str, fa.Artifact] = {}
        """Artifact name -> the latest version this run saved."""
        self._lock = threading.Lock()
        self._token: Token[KedroRun | None] | None = None

    @property
    def project(self) -> str:
        assert self.run.project is not None
        return self.run.project

    def node(self, name: str) -> NodeState:
        with self._lock:
            return self.nodes.setdefault(name, NodeState())

    def remember(self, artifact: fa.Artifact) -> None:
        with self._lock:
            self.produced[artifact.name] = artifact


_run: ContextVar[KedroRun | None] = ContextVar("flow_artifacts_kedro_run", default=None)
_node: ContextVar[str | None] = ContextVar("flow_artifacts_kedro_node", default=None)
_dataset: ContextVar[str | None] = ContextVar("flow_artifacts_kedro_dataset", default=None)
_active: list[KedroRun] = []
_active_lock = threading.Lock()


def begin(kedro_run: KedroRun) -> None:
    kedro_run._token = _run.set(kedro_run)
    with _active_lock:
        _active.append(kedro_run)


def end(kedro_run: KedroRun) -> None:
    at(None, None)
    with _active_lock:
        if kedro_run in _active:
            _active.remove(kedro_run)
    if kedro_run._token is not None and _run.get() is kedro_run:
        try:
            _run.reset(kedro_run._token)  # back to the run this one was nested in, if any
        except ValueError:  # ended in another context than it began in
            _run.set(None)


def current() -> KedroRun | None:
    """The Kedro run of this thread, else the only one active in the process, else None."""
    found = _run.get()
    if found is not None:
        return found
    with _active_lock:
        return _active[0] if len(_active) == 1 else None


def at(node: str | None, dataset: str | None) -> None:
    """Set by the hooks just before a node runs or a dataset of it is loaded or saved."""
    _node.set(node)
    _dataset.set(dataset)


def current_node() -> str | None:
    return _node.get()


def current_dataset() -> str | None:
    return _dataset.get()
