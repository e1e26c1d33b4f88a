"""`@step`: a function whose outputs are stored as artifacts, with lineage, each time it is called.

Decorating only checks the options; the stack, catalog and materializers load on the first call.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from ..errors import ConfigError
from ..materializers.base import ArtifactKind
from ..materializers.registry import dotted_name
from ..naming import validate_new_name
from ..redact import is_secret_name
from .cache import Fingerprinted, code_fingerprint
from .disabled import steps_disabled

F = TypeVar("F", bound=Callable[..., Any])
OutputSpec = str | tuple[str, ...] | list[str] | None
MaterializerSpec = str | Mapping[str | type, str] | None
OptionsSpec = Mapping[str, Any] | None
_PLAIN = (str, int, float, bool, type(None))


class Step(Fingerprinted):
    """A function whose calls are recorded as step runs; see `step` for the options."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        outputs: OutputSpec = None,
        cache: bool = False,
        materializers: MaterializerSpec = None,
        materializer_options: OptionsSpec = None,
        labels: Mapping[str, str] | None = None,
        kind: str | ArtifactKind | None = None,
        enabled: bool = True,
    ) -> None:
        if not callable(func):
            raise ConfigError(f"@step decorates functions, got {func!r}")
        if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
            raise ConfigError(f"step {func.__qualname__!r} is async; steps must be plain functions")
        if inspect.isgeneratorfunction(func):
            raise ConfigError(
                f"step {func.__qualname__!r} is a generator; return the outputs instead of "
                "yielding them"
            )
        functools.update_wrapper(self, func)
        self.func = func
        self.name = validate_new_name(name or func.__name__, "step name")
        self.outputs = _check_outputs(self.name, outputs)
        self.cache = bool(cache)
        self.materializer, self.output_materializers, self.type_materializers = _materializers(
            self.name, materializers, self.output_names
        )
        self.options, self.output_options = _options(
            self.name, materializer_options, self.output_names
        )
        self.labels = {str(k): str(v) for k, v in (labels or {}).items()}
        self.kind = _check_kind(self.name, kind)
        self.enabled = enabled
        self.signature = inspect.signature(func)

    @property
    def output_names(self) -> tuple[str, ...]:
        """Declared output names; a single undeclared output goes by the step's name."""
        if self.outputs is None:
            return (self.name,)
        return (self.outputs,) if isinstance(self.outputs, str) else self.outputs

    def options_for(self, output: str) -> dict[str, Any]:
        """The materializer options of declared output `output`: the step's, overridden per
        option by those given under the output's name."""
        return {**self.options, **self.output_options.get(output, {})}

    @property
    def several_outputs(self) -> bool:
        return isinstance(self.outputs, tuple)

    @functools.cached_property
    def code_fingerprint(self) -> str:
        return code_fingerprint(self.func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.enabled or steps_disabled():
            return self.func(*args, **kwargs)
        from .context import current_run

        run = current_run()
        if run is not None and run.recording and run.executor is not None:
            from .distributed import submit

            return submit(run, self, args, kwargs)
        from .execute import call_step

        return call_step(self, args, kwargs)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        return self if instance is None else types.MethodType(self, instance)

    def __repr__(self) -> str:
        return f"<Step {self.name!r} {self.func.__module__}.{self.func.__qualname__}>"


@overload
def step(func: F, /) -> F: ...


@overload
def step(
    *,
    name: str | None = None,
    outputs: OutputSpec = None,
    cache: bool = False,
    materializers: MaterializerSpec = None,
    materializer_options: OptionsSpec = None,
    labels: Mapping[str, str] | None = None,
    kind: str | ArtifactKind | None = None,
    enabled: bool = True,
) -> Callable[[F], F]: ...


def step(func: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a function a step: each call runs it and stores what it returns as artifacts.

    - `name`: the step's name in paths and the catalog (default: the function's name).
    - `outputs`: a name, or a tuple of names for a function returning that many values (as a
      tuple, or a dict with those keys). Without it the single output is named after the step,
      and a function returning None stores nothing.
    - `cache`: reuse the outputs of an earlier call with the same code, parameters and input
      content instead of running the function.
    - `materializers`: one materializer id for every output, or a mapping from output names or
      types (classes or dotted names) to ids.
    - `materializer_options`: options for the materializer of every output
      (`{"compression": "zstd"}`), and per output under its name
      (`{"train": {"compression": "zstd"}}`); they win over the stack's per option. An option
      the chosen materializer does not take fails the step before any output is written.
    - `labels`, `kind`: recorded on every output (`kind` overrides the materializer's).
    - `enabled=False` (or `FLOW_ARTIFACTS_DISABLED=1`): call the function plainly.
    """
    if func is not None:
        return Step(func, **options)
    return lambda f: Step(f, **options)


def _check_outputs(step_name: str, outputs: OutputSpec) -> str | tuple[str, ...] | None:
    if outputs is None:
        return None
    if isinstance(outputs, str):
        return validate_new_name(outputs, "output name")
    if not isinstance(outputs, (tuple, list)) or not outputs:
        raise ConfigError(
            f"step {step_name!r}: outputs must be a name or a non-empty tuple of names, "
            f"got {outputs!r}"
        )
    names = tuple(validate_new_name(n, "output name") for n in outputs)
    if len(set(names)) != len(names):
        raise ConfigError(f"step {step_name!r}: output names repeat in {names}")
    return names


def _materializers(
    step_name: str, spec: MaterializerSpec, output_names: tuple[str, ...]
) -> tuple[str | None, dict[str, str], dict[str, str]]:
    """(id for every output, ids by output name, ids by dotted type name)."""
    if spec is None or isinstance(spec, str):
        return spec, {}, {}
    by_output: dict[str, str] = {}
    by_type: dict[str, str] = {}
    for key, materializer in spec.items():
        if not isinstance(materializer, str):
            raise ConfigError(
                f"step {step_name!r}: materializers[{key!r}] must be a materializer id, "
                f"got {materializer!r}"
            )
        if isinstance(key, type):
            by_type[dotted_name(key)] = materializer
        elif isinstance(key, str) and key in output_names:
            by_output[key] = materializer
        elif isinstance(key, str) and "." in key:
            by_type[key] = materializer
        else:
            raise ConfigError(
                f"step {step_name!r}: materializers key {key!r} is neither an output nor a type; "
                f"allowed: outputs {', '.join(output_names)}, a class, or a dotted type name"
            )
    return None, by_output, by_type


def _options(
    step_name: str, spec: OptionsSpec, output_names: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(options for every output, options by output name): a mapping value is an output's."""
    if spec is None:
        return {}, {}
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"step {step_name!r}: materializer_options must be a mapping of option -> value "
            f"(or output -> options), got a {type(spec).__name__}"
        )
    every: dict[str, Any] = {}
    by_output: dict[str, dict[str, Any]] = {}
    for key, value in spec.items():
        if not isinstance(value, Mapping):
            if key in output_names:
                raise ConfigError(
                    f"step {step_name!r}: materializer_options[{key!r}] names an output, so it "
                    f"takes that output's options as a mapping, e.g. {{'compression': 'zstd'}}"
                )
            every[_option_name(step_name, key)] = _option_value(step_name, key, value)
        elif key in output_names:
            by_output[key] = {
                _option_name(step_name, name): _option_value(step_name, name, v)
                for name, v in value.items()
            }
        else:
            shown = f"{key!r:.60}" if isinstance(key, str) else f"a {type(key).__name__}"
            raise ConfigError(
                f"step {step_name!r}: materializer_options key {shown} holds a mapping, so it "
                f"must name an output; outputs: {', '.join(output_names)}"
            )
    return every, by_output


def _option_name(step_name: str, name: Any) -> str:
    if type(name) is not str:
        raise ConfigError(
            f"step {step_name!r}: materializer option names are strings, got a "
            f"{type(name).__name__}"
        )
    if is_secret_name(name):
        raise ConfigError(
            f"step {step_name!r}: materializer option {name[:60]!r} is named like a credential; "
            "materializer options shape the bytes written and never carry secrets"
        )
    return name


def _option_value(step_name: str, name: str, value: Any) -> Any:
    """A plain value (string, number, true/false, None): what materializers take, and what a
    cache key can hold."""
    if type(value) not in _PLAIN:
        raise ConfigError(
            f"step {step_name!r}: materializer option {str(name)[:60]!r} must be a string, "
            f"number, true/false or None, got a {type(value).__name__}"
        )
    return value


def _check_kind(step_name: str, kind: str | ArtifactKind | None) -> str | None:
    if kind is None:
        return None
    try:
        return ArtifactKind(kind).value
    except ValueError:
        allowed = ", ".join(k.value for k in ArtifactKind)
        raise ConfigError(
            f"step {step_name!r}: unknown kind {kind!r}; allowed: {allowed}"
        ) from None
