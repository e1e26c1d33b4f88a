"""Engines that run steps as tasks: the small interface, and the Dask and Ray implementations.

An executor submits one function call per step, with the futures of the steps it depends on as
top-level arguments (so the engine orders them and hands over their results, which are artifact
references, never data). Another engine comes in through the `register_executors` hook.
Dask and Ray are imported only when an executor of theirs is made.
"""

from __future__ import annotations

import abc
import socket
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ConfigError
from ..plugins import PluginHost, default_plugin_host

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


class Executor(abc.ABC):
    """What flow_artifacts needs from an engine: submit, wait, cancel, and where it runs."""

    name: str = "executor"

    @abc.abstractmethod
    def submit(self, fn: Callable[..., Any], args: Sequence[Any], *, key: str) -> Any:
        """Run `fn(*args)` as a task and return its future. Futures of this executor among
        `args` are dependencies: the task starts after them and receives their results."""

    @abc.abstractmethod
    def result(self, future: Any) -> Any:
        """Wait for a future; return its result or raise the task's own exception."""

    def results(self, futures: Sequence[Any]) -> list[Any]:
        """Wait for every future and return their results in order, or raise as `result` does
        for one that failed. Engines that fetch many results in one round trip override it."""
        return [self.result(future) for future in futures]

    @abc.abstractmethod
    def cancel(self, futures: Sequence[Any]) -> None:
        """Cancel tasks that have not run yet (those running may finish)."""

    @abc.abstractmethod
    def hosts(self) -> set[str]:
        """The hosts the engine's workers run on, as addresses or names."""

    def multi_machine(self) -> bool:
        """Whether workers may run on another machine than this one."""
        here = {socket.gethostname(), _own_address()}
        return any(host not in LOCAL_HOSTS and host not in here for host in self.hosts())


class DaskExecutor(Executor):
    """Steps as tasks of a `dask.distributed.Client` (the default client when none is given).

    A worker lost mid-task is the scheduler's to retry (`distributed.scheduler.allowed-failures`);
    the step's next attempt is recorded as such.
    """

    name = "dask"

    def __init__(self, client: Any = None) -> None:
        if client is None:
            from distributed import get_client

            client = get_client()
        self.client = client

    def submit(self, fn: Callable[..., Any], args: Sequence[Any], *, key: str) -> Any:
        return self.client.submit(fn, *args, key=key, pure=False)

    def result(self, future: Any) -> Any:
        return future.result()

    def results(self, futures: Sequence[Any]) -> list[Any]:
        # completions pushed by the client's event loop, and one gather, instead of a round
        # trip to that loop per future; a failure is seen as soon as it happens
        from distributed import as_completed

        for batch in as_completed(list(futures)).batches():
            if any(future.status != "finished" for future in batch):
                return super().results(futures)  # raises the first failure in call order
        return list(self.client.gather(list(futures)))

    def cancel(self, futures: Sequence[Any]) -> None:
        if futures:
            self.client.cancel(list(futures))

    def hosts(self) -> set[str]:
        from urllib.parse import urlsplit

        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        parts = [urlsplit(address) for address in workers]
        # in-process workers (Client(processes=False)) are on this machine by definition
        return {p.hostname or p.geturl() for p in parts if p.scheme != "inproc"}


class RayExecutor(Executor):
    """Steps as Ray tasks, on the Ray instance this process is connected to (`ray.init()` is
    called when it is not). A task whose worker dies is retried up to `max_retries` times."""

    name = "ray"

    def __init__(self, *, max_retries: int = 3, num_cpus: float = 1) -> None:
        import ray

        if not ray.is_initialized():
            ray.init()
        self._ray = ray
        self._options = {"max_retries": max_retries, "num_cpus": num_cpus}
        self._remotes: dict[Any, Any] = {}

    def submit(self, fn: Callable[..., Any], args: Sequence[Any], *, key: str) -> Any:
        remote = self._remotes.get(fn)
        if remote is None:
            remote = self._remotes[fn] = self._ray.remote(fn)
        return remote.options(name=key, **self._options).remote(*args)

    def result(self, future: Any) -> Any:
        try:
            return self._ray.get(future)
        except self._ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, BaseException) else None
            if cause is None or isinstance(cause, self._ray.exceptions.RayTaskError):
                raise
            raise cause from None

    def cancel(self, futures: Sequence[Any]) -> None:
        for future in futures:
            try:
                self._ray.cancel(future)
            except Exception:  # already finished, or gone: nothing left to cancel
                pass

    def hosts(self) -> set[str]:
        return {n["NodeManagerAddress"] for n in self._ray.nodes() if n.get("Alive")}

    def multi_machine(self) -> bool:
        # Ray names a node by its interface address, which the host name may not resolve to
        here = self._ray.util.get_node_ip_address()
        return any(host != here for host in self.hosts()) and super().multi_machine()


ExecutorLike = Executor | str


def resolve_executor(spec: ExecutorLike, plugins: PluginHost | None = None) -> Executor:
    """An `Executor` as given, or made from a name: "dask", "ray", or one a plugin registered
    (in `plugins`, default the process's plugin host)."""
    if isinstance(spec, Executor):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(
            f"executor must be an Executor or an engine name, got {type(spec).__name__}"
        )
    factories: dict[str, Callable[[], Executor]] = {"dask": DaskExecutor, "ray": RayExecutor}
    factories.update((plugins or default_plugin_host()).executors)
    factory = factories.get(spec)
    if factory is None:
        raise ConfigError(f"unknown executor {spec!r}; allowed: {', '.join(sorted(factories))}")
    made = factory()
    if not isinstance(made, Executor):
        raise ConfigError(f"executor {spec!r} registered by a plugin is not an Executor")
    return made


def _own_address() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
