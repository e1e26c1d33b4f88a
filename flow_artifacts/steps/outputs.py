"""A step's return value as named outputs, and each output committed as an artifact.

An output is stored at the stack's path template with the step-run name as `{step}`, e.g.
`demo/<run id>/split/train`, and committed by its catalog row, tied to the step run and its inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..artifact import Artifact
from ..errors import ConfigError, FlowArtifactsError

if TYPE_CHECKING:
    from ..stack import Stack
    from .decorator import Step


class StepOutputError(FlowArtifactsError, TypeError):
    """A step returned something that does not match its declared `outputs`."""


class Outputs(tuple[Any, ...]):
    """The outputs of a step with several: unpacks like a tuple, and `out.train` or
    `out["train"]` get one by name. A cache hit returns the same shape as a fresh call."""

    names: tuple[str, ...]

    def __new__(cls, names: Iterable[str], values: Iterable[Any]) -> Outputs:
        self = super().__new__(cls, values)
        self.names = tuple(names)
        return self

    def __getnewargs__(self) -> tuple[Any, ...]:
        return (self.names, tuple(self))

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index(key))
        return tuple.__getitem__(self, key)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "names":
            raise AttributeError(name)
        try:
            return tuple.__getitem__(self, self._index(name))
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        return dict(zip(self.names, self, strict=True))

    def _index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no output {name!r}; outputs: {', '.join(self.names)}") from None

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={type(v).__name__}" for n, v in zip(self.names, self, strict=True))
        return f"Outputs({inner})"


def split_outputs(step: Step, step_run: str, result: Any) -> list[tuple[str, Any]]:
    """(artifact name, object) for each output in `result`, as `step` declares them."""
    if step.outputs is None:
        if isinstance(result, tuple):  # almost always meant as several outputs
            raise StepOutputError(
                f"step {step.name!r} returned a tuple of {len(result)} values but declares no "
                f"outputs; declare @step(outputs=(...)) with {len(result)} names to store each, "
                f"or @step(outputs={step.name!r}) to store the tuple as one artifact"
            )
        return [] if result is None else [(step_run, result)]
    if isinstance(step.outputs, str):
        return [(step.outputs, result)]
    names = step.outputs
    if isinstance(result, Mapping):
        if set(result) != set(names):
            raise StepOutputError(
                f"step {step.name!r} returned a mapping with keys {sorted(map(str, result))}, "
                f"but declares outputs {list(names)}"
            )
        return [(name, result[name]) for name in names]
    if isinstance(result, (tuple, list)) and len(result) == len(names):
        return list(zip(names, result, strict=True))
    got = f"{len(result)} values" if isinstance(result, (tuple, list)) else type(result).__name__
    raise StepOutputError(
        f"step {step.name!r} declares outputs {list(names)}, so it must return {len(names)} "
        f"values (a tuple, or a dict with those keys); it returned {got}"
    )


def returned(step: Step, result: Any, outputs: list[tuple[str, Any]]) -> Any:
    """What the caller gets: the object itself, or `Outputs` for a step with several."""
    if not step.several_outputs:
        return result
    return Outputs((name for name, _ in outputs), (obj for _, obj in outputs))


def commit_output(
    stack: Stack,
    step: Step,
    obj: Any,
    name: str,
    *,
    project: str,
    run_id: str,
    step_run: str,
    step_run_id: str,
    pipeline: str,
    inputs: list[str],
) -> Artifact:
    """Write `obj`, then commit its catalog row as an output of the step run `step_run_id`."""
    from ..api import materialize

    declared = _declared(step, name)
    return materialize(
        obj,
        name,
        run_id,
        step_run,
        project,
        inputs=inputs,
        labels=dict(step.labels),
        materializer=step.output_materializers.get(declared, step.materializer),
        overrides=step.type_materializers or None,
        materializer_options=step.options_for(declared) or None,
        kind=step.kind,
        pipeline=pipeline,
        step_run_id=step_run_id,
        stack=stack,
    )


def check_output_options(
    stack: Stack, step: Step, project: str, outputs: list[tuple[str, Any]]
) -> None:
    """Refuse, before any output is written, an option the materializer chosen for an output
    does not take: the step's options apply to whichever materializer its outputs get."""
    for name, obj in outputs:
        declared = _declared(step, name)
        options = step.options_for(declared)
        if not options:
            continue
        dispatch = stack.dispatch(
            project,
            materializer=step.output_materializers.get(declared, step.materializer),
            overrides=step.type_materializers or None,
        )
        chosen = dispatch.explain(obj).materializer
        if chosen is None:  # nothing to check: materialize says why nothing can save it
            continue
        try:
            chosen.with_options(options)
        except ConfigError as exc:
            raise ConfigError(
                f"step {step.name!r}, output {name!r}: {exc}; nothing was stored. Options "
                "under an output's name in materializer_options apply to that output alone"
            ) from None


def _declared(step: Step, name: str) -> str:
    """The declared output an artifact name stands for (a single undeclared one is the step's)."""
    return step.name if step.outputs is None else name
