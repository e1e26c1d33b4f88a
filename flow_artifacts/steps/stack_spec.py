"""The run's stack as configuration for workers, and the stacks workers cannot share.

A stack read from a file travels as the file's path and stack name; a stack built in code travels
as its settings only when it holds no secret and no storage options. Each worker process opens a
spec once (`${VAR}` expanded from its own environment) and keeps it open for later tasks.
`StackSpec` is public: an integration whose framework runs steps in other processes (a Prefect
task runner's workers) ships its stack the same way (`for_workers`, then `opened` there).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, shown_path
from ..redact import secret_values

if TYPE_CHECKING:
    from ..stack import Stack
    from .executors import Executor


@dataclass(frozen=True)
class StackSpec:
    """How a worker opens the run's stack: a stack file, or the settings of a stack without
    secrets. Never holds a secret: those come from the worker's environment."""

    file: str | None = None
    name: str | None = None
    settings: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def for_workers(cls, stack: Stack, executor: Executor | None = None) -> StackSpec:
        """How worker processes open `stack`; `ConfigError` when they cannot reach it (in
        memory) or it holds secrets. `executor`: the engine whose workers these are, when
        flow_artifacts drives it (a SQLite catalog is then refused if they run elsewhere)."""
        check_shareable(stack, executor)
        return cls.of(stack)

    @classmethod
    def of(cls, stack: Stack) -> StackSpec:
        if stack.source is not None:  # absolute: a worker's working folder is not the driver's
            return cls(file=os.path.abspath(stack.source), name=stack.source_name)
        options = {
            k: v
            for k, v in getattr(stack.store.fs, "storage_options", {}).items()
            if k != "use_listings_cache"
        }
        if options or stack.secrets or secret_values(stack.catalog.url):
            raise ConfigError(
                f"stack {stack.name!r} holds storage options or credentials, which never travel "
                "to workers; describe it in a stack file with ${VAR} for each secret and set "
                "those variables in the workers' environment"
            )
        settings = {
            "store_url": _raw_store_url(stack),
            "template": stack.store.template.source,
            "catalog_url": _shared_catalog_url(stack),
            "overrides": tuple(sorted(stack.overrides.items())),
            "materializer_options": tuple(
                (mid, tuple(sorted(options.items())))
                for mid, options in sorted(stack.materializer_options.items())
            ),
            "allow_pickle": stack.allow_pickle,
            "trusted_projects": stack.trusted_projects,
            "name": stack.name,
            "project": stack.project,
        }
        return cls(settings=tuple(sorted(settings.items())))

    def opened(self) -> Stack:
        """This process's stack of the spec, opened at its first use (see `worker_stack`)."""
        return worker_stack(self)

    def open(self) -> Stack:
        from ..catalog import Catalog
        from ..stack import Stack
        from ..stores.store import ArtifactStore

        if self.file is not None:
            stack = Stack.from_yaml(self.file, self.name)
            if self.name is None and stack.source_name is not None:  # its `active:` one now
                stack.close()
                raise ConfigError(
                    f"stack file {shown_path(self.file)} held a single stack when the run "
                    "started and now holds several; restart the run with the stack it should use"
                )
            return stack
        s = dict(self.settings)
        return Stack(
            store=ArtifactStore(s["store_url"], template=s["template"]),
            catalog=Catalog(s["catalog_url"]),
            overrides=dict(s["overrides"]),
            materializer_options={mid: dict(o) for mid, o in s["materializer_options"]},
            allow_pickle=s["allow_pickle"],
            trusted_projects=s["trusted_projects"],
            name=s["name"],
            project=s["project"],
        )


def _raw_store_url(stack: Stack) -> str:
    protocol = stack.store.fs.protocol
    protocol = protocol[0] if isinstance(protocol, (tuple, list)) else protocol
    if protocol in ("file", "local"):
        return str(stack.store.root)
    return str(stack.store.url)


def _shared_catalog_url(stack: Stack) -> str:
    """The catalog's URL, a relative SQLite file's path made absolute: a worker's working folder
    is not the driver's, and there it would open a new, empty catalog."""
    url = stack.catalog.engine.url
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return stack.catalog.url
    if database.startswith("file:") or os.path.isabs(database):
        return stack.catalog.url
    return url.set(database=os.path.abspath(database)).render_as_string(hide_password=False)


def check_shareable(stack: Stack, executor: Executor | None) -> None:
    """Refuse a stack that the executor's workers cannot all reach (of an engine not known,
    None: the checks that do not depend on where its workers run)."""
    protocol = stack.store.fs.protocol
    protocols = protocol if isinstance(protocol, (tuple, list)) else (protocol,)
    if "memory" in protocols:
        raise ConfigError(
            f"stack {stack.name!r} keeps its artifacts in memory://, which worker processes "
            "cannot see; use a folder or an object store for runs with an executor"
        )
    backend = stack.catalog.backend
    if stack.catalog.in_memory:
        raise ConfigError(
            f"stack {stack.name!r} has an in-memory SQLite catalog, which worker processes "
            "cannot see; use a SQLite file or PostgreSQL"
        )
    if backend == "sqlite" and executor is not None and executor.multi_machine():
        raise ConfigError(
            f"stack {stack.name!r} has a SQLite catalog, but {executor.name} workers run on "
            "other machines, where that file is not shared safely; use PostgreSQL "
            "(catalog: {url: postgresql+psycopg://...}), or workers on this machine only"
        )


_opened: dict[StackSpec, Stack] = {}
_opened_lock = threading.Lock()
_opened_pid = os.getpid()
_inherited: list[Stack] = []
"""A forked worker's copies of its parent's stacks: kept, never used, so that no finalizer
closes connections the parent still uses (a PostgreSQL connection would end for both)."""


def worker_stack(spec: StackSpec) -> Stack:
    """One open stack per spec and worker process: engines are not reopened per task. A forked
    worker opens its own: the connections it inherited are its parent's."""
    global _opened_pid
    with _opened_lock:
        if _opened_pid != os.getpid():
            _inherited.extend(_opened.values())
            _opened.clear()
            _opened_pid = os.getpid()
        stack = _opened.get(spec)
        if stack is None:
            stack = _opened[spec] = spec.open()
        return stack
