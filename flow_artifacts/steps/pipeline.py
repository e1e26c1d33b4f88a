"""`@pipeline`: a function whose every call is a run, shared by the steps it calls."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..naming import validate_new_name

if TYPE_CHECKING:
    from ..stack import StackLike
    from .context import Run


class Pipeline:
    """Calling it opens a run, calls the function inside, and returns the finished `Run`
    (the function's return value is `run.result`). A failure marks the run failed and
    re-raises the function's exception."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        project: str | None = None,
        name: str | None = None,
        cache: bool = True,
        stack: StackLike | None = None,
        run_id: str | None = None,
    ) -> None:
        functools.update_wrapper(self, func)
        self.func = func
        self.name = validate_new_name(name or func.__name__, "pipeline")
        self.project = validate_new_name(project, "project") if project is not None else None
        self.cache = cache
        self.stack = stack
        self.run_id = run_id

    def __call__(self, *args: Any, **kwargs: Any) -> Run:
        from .context import Run

        with Run(
            project=self.project,
            name=self.name,
            pipeline=self.name,
            cache=self.cache,
            stack=self.stack,
            run_id=self.run_id,
        ) as run:
            run.result = self.func(*args, **kwargs)
        return run

    def with_options(self, **options: Any) -> Pipeline:
        """A copy with some of `project`, `name`, `cache`, `stack`, `run_id` changed, e.g.
        `training.with_options(cache=False)("data.csv")`."""
        current = {
            "project": self.project,
            "name": self.name,
            "cache": self.cache,
            "stack": self.stack,
            "run_id": self.run_id,
        }
        unknown = set(options) - set(current)
        if unknown:
            raise TypeError(
                f"unknown pipeline options {sorted(unknown)}; allowed: {sorted(current)}"
            )
        return Pipeline(self.func, **{**current, **options})

    def __repr__(self) -> str:
        return f"<Pipeline {self.name!r} {self.func.__module__}.{self.func.__qualname__}>"


def pipeline(
    func: Callable[..., Any] | None = None,
    /,
    *,
    project: str | None = None,
    name: str | None = None,
    cache: bool = True,
    stack: StackLike | None = None,
) -> Any:
    """Make a function a pipeline: each call is one run, returned as a `Run`.

    `project` defaults to the stack's; `cache=False` makes cached steps run again;
    `stack` is a `Stack` or a stack file (`path.yaml[#name]`), default the active one.
    """
    options = {"project": project, "name": name, "cache": cache, "stack": stack}
    if func is not None:
        return Pipeline(func, **options)  # type: ignore[arg-type]
    return lambda f: Pipeline(f, **options)  # type: ignore[arg-type]
