"""What a Kedro run being recorded knows: its flow_artifacts run, each node's step run and loads.

Kedro calls the load hook in the thread that then loads, so the node and dataset at hand live in
context variables set by the hooks. Not so for saves in async mode (`kedro run --async`), which
Kedro's hook announces in the node's thread and then runs in another: so each `ArtifactDataset`
of a run's pipeline is also given a `Binding`, its run, its entry and the node that saves it. The
run itself is set in the session's thread; runners that use worker threads (ThreadRunner) do not
inherit it, so the process-wide list of active runs answers there when exactly one run is active.

ParallelRunner runs nodes in worker processes, forked or spawned. A run is known only in the
process that began it (a forked worker's copy is ignored); a worker joins it through the
`Handoff` its `ArtifactDataset`s carry in their pickled state, made known to the process as they
arrive (`arrived`), and found by run id (`joined`).
"""

from __future__ import annotations

import logging
import os
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


def show_versions() -> None:
    """Like Kedro's own loggers: which version each dataset had is shown unless configured."""
    logger = logging.getLogger("flow_artifacts_kedro")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


def kedro_project() -> str | None:
    """The configured Kedro project's package name: the flow_artifacts project of its artifacts."""
    from kedro.framework.project import PACKAGE_NAME

    return safe_name(PACKAGE_NAME) if PACKAGE_NAME else None


@dataclass(frozen=True)
class Handoff:
    """A run handed to ParallelRunner's workers: its ticket, and the process that runs it."""

    ticket: fa.RunTicket
    pid: int

    @property
    def here(self) -> bool:
        """Whether this is the process that runs the run (not one of its workers)."""
        return self.pid == os.getpid()


@dataclass(frozen=True)
class Binding:
    """What a run tells an `ArtifactDataset` of its pipeline, for saves in threads the hooks did
    not run in: the run's id, the catalog entry, the node that saves it (None: no node of the
    pipeline does). `entry` is None for an instance registered under several of the pipeline's
    entries, which only the save hook's context tells apart."""

    run_id: str
    entry: str | None
    producer: str | None


@dataclass
class NodeState:
    """One node in one run: the artifacts it loaded, its step run, the outputs it saved."""

    loaded: dict[str, fa.Artifact] = field(default_factory=dict)
    step: fa.StepRun | None = None
    saved: set[str] = field(default_factory=set)


class KedroRun:
    """A Kedro session run recorded as a flow_artifacts run."""

    def __init__(self, run: fa.Run, *, joined: bool = False) -> None:
        self.run = run
        self.joined = joined
        """A ParallelRunner worker's: other processes save into the run too."""
        self.pid = os.getpid()
        self.nodes: dict[str, NodeState] = {}
        self.produced: dict[str, fa.Artifact] = {}
        """Artifact name -> the latest version this run saved (not kept in a worker)."""
        self.handoff: Handoff | None = None
        """Set when the run's nodes run in worker processes (ParallelRunner)."""
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
        if not self.joined:
            with self._lock:
                self.produced[artifact.name] = artifact

    def own(self, name: str) -> fa.Artifact | None:
        """The latest version of `name` this run saved: as remembered here, or, in a worker
        (whose run other processes save into too), as the catalog says."""
        if not self.joined:
            with self._lock:
                return self.produced.get(name)
        mine = fa.list_artifacts(
            self.project, name=name, run_id=self.run.id, page_size=1, stack=self.run.stack
        )
        return next(iter(mine), None)


_run: ContextVar[KedroRun | None] = ContextVar("flow_artifacts_kedro_run", default=None)
_node: ContextVar[str | None] = ContextVar("flow_artifacts_kedro_node", default=None)
_dataset: ContextVar[str | None] = ContextVar("flow_artifacts_kedro_dataset", default=None)
_saving: ContextVar[bool] = ContextVar("flow_artifacts_kedro_saving", default=False)
_active: list[KedroRun] = []
_active_lock = threading.Lock()
_arrived: dict[str, fa.RunTicket] = {}
"""In a worker: the tickets of runs whose datasets reached this process, by run id."""


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
    """The Kedro run of this thread, else the only one active in the process, else None. Runs a
    forked worker inherited are its parent's, never its own."""
    pid = os.getpid()
    found = _run.get()
    with _active_lock:
        if found is not None and found.pid == pid and found in _active:
            return found
        mine = [r for r in _active if r.pid == pid]
    return mine[0] if len(mine) == 1 else None


def active(run_id: str) -> KedroRun | None:
    """This process's active run `run_id` (begun or joined here), if any."""
    pid = os.getpid()
    with _active_lock:
        return next((r for r in _active if r.pid == pid and r.run.id == run_id), None)


def within(kedro_run: KedroRun) -> None:
    """Make `kedro_run` this thread's run: a node hook found it by Kedro's run id, and the
    hooks that follow in the node's thread (a dataset's save) carry none. Runs other than
    this one may still be active here, nested or left behind by a Ctrl-C."""
    _run.set(kedro_run)


def arrived(handoff: Handoff) -> None:
    """A dataset carrying `handoff` was unpickled here: in a worker, its run can be joined."""
    if not handoff.here:
        with _active_lock:
            _arrived.setdefault(handoff.ticket.run_id, handoff.ticket)


def joined(run_id: str) -> KedroRun | None:
    """In a ParallelRunner worker: run `run_id` as this process joined it (on first use), once
    its ticket arrived; else None."""
    found = active(run_id)
    if found is not None:
        return found
    with _active_lock:
        ticket = _arrived.get(run_id)
        if ticket is None:
            return None
        kedro_run = KedroRun(ticket.join(), joined=True)
        _active.append(kedro_run)
    show_versions()
    return kedro_run


def run_of(handoff: Handoff | None, binding: Binding | None = None) -> KedroRun | None:
    """The run a dataset carrying `handoff` and `binding` (None: none) loads and saves in,
    here: the run bound to it while that run is active in this process, else this thread's."""
    if handoff is not None and not handoff.here:
        arrived(handoff)
        return joined(handoff.ticket.run_id)
    if binding is not None:
        found = active(binding.run_id)
        if found is not None:
            return found
    return current()


def at(node: str | None, dataset: str | None, *, saving: bool = False) -> None:
    """Set by the hooks just before a node runs or a dataset of it is loaded or saved."""
    _node.set(node)
    _dataset.set(dataset)
    _saving.set(saving)


def current_node() -> str | None:
    return _node.get()


def current_dataset() -> str | None:
    return _dataset.get()


def announced_save() -> bool:
    """Whether the context was set by the save hook: in this thread, the save is its dataset's."""
    return _saving.get()
