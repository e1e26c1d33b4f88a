"""Which materializer saves an object: registration, lookup by id, and dispatch along the MRO."""

from __future__ import annotations

import importlib
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import (
    AmbiguousMaterializer,
    FlowArtifactsError,
    NoMaterializerFound,
    PickleFallbackWarning,
    PluginError,
)
from .base import Materializer

ChooseHook = Callable[[Any, list[str]], "str | None"]
_MAX_PLANS = 1024
"""Dispatch plans kept, one per type seen: a bound for programs that make classes as they run."""
_TIE_FIX = (
    "choose one with materializer=..., a stack override (materializers: {type: id}), or a "
    "higher `priority` on the plugin's materializer"
)


def _highest(materializers: list[Materializer]) -> list[Materializer]:
    """Those of the highest `priority` among `materializers`."""
    if not materializers:
        return []
    top = max(m.priority for m in materializers)
    return [m for m in materializers if m.priority == top]


def dotted_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True)
class _TypePlan:
    """What dispatch for one type needs that does not depend on the value: worked out once per
    type, so that a call only runs the value checks (`accepts`, the plugins' hook)."""

    type_name: str
    levels: tuple[tuple[int, type, tuple[Materializer, ...]], ...]
    """(depth in the MRO, class, materializers handling it in registration order), for each
    class of the MRO that some materializer handles."""
    candidates: tuple[str, ...]
    """Ids of the materializers handling any class of the MRO, in registration order."""
    override_keys: tuple[str, ...]
    """Names a stack override may use for the type, nearest class first."""


@dataclass
class Explanation:
    """Why a materializer was (or would be) chosen for an object; `str()` reads as a report."""

    type_name: str
    materializer: Materializer | None
    reason: str
    considered: list[str] = field(default_factory=list)
    error: FlowArtifactsError | None = None
    """Why nothing could be chosen, when it is more than "no registered type matches"."""

    @property
    def materializer_id(self) -> str | None:
        return self.materializer.id if self.materializer else None

    def __str__(self) -> str:
        head = f"{self.type_name} -> {self.materializer_id or 'no materializer'}: {self.reason}"
        others = [line for line in self.considered if line != self.reason]
        return "\n".join([head, *(f"  - {line}" for line in others)])


@dataclass(frozen=True)
class Dispatch:
    """Everything besides the object that decides its materializer: an id asked for, overrides
    by type, and whether pickles are allowed. One value serves writing and explaining, so
    `explain` always tells what `materialize` will do."""

    registry: MaterializerRegistry
    materializer: str | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)
    allow_pickle: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)
    """Options for the chosen materializer's `save` (see `Materializer.with_options`)."""
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Options by materializer id (a stack's `materializer_options`), each overridden per
    option by `options`: they apply only when that materializer is the one chosen."""

    def choose(self, obj: Any) -> Materializer:
        chosen = self.registry.choose(obj, **self._rules())
        options = {**self.defaults.get(chosen.id, {}), **self.options}
        return chosen.with_options(options) if options else chosen

    def explain(self, obj: Any) -> Explanation:
        return self.registry.explain(obj, **self._rules())

    def explain_type(self, cls: type) -> Explanation:
        return self.registry.explain_type(cls, **self._rules())

    def _rules(self) -> dict[str, Any]:
        return {
            "materializer": self.materializer,
            "overrides": self.overrides,
            "allow_pickle": self.allow_pickle,
        }


class MaterializerRegistry:
    """Materializers by id, plus the type dispatch that picks one for an object.

    Types are registered as dotted names and resolved only once their top-level module has been
    imported by someone else: an object of a type from an unimported module cannot exist.
    """

    def __init__(self, choose_hook: ChooseHook | None = None) -> None:
        self._by_id: dict[str, Materializer] = {}
        self._owner: dict[str, str] = {}
        self._resolved: dict[str, type | None] = {}
        self._pending: frozenset[str] = frozenset()
        """Top-level modules of handled names not resolved yet: importing one may change a plan
        (replaced, never changed, so that a lock-free reader can iterate it)."""
        self._plans: dict[type, _TypePlan] = {}
        self._planning = threading.RLock()
        """Held while plans are made or dropped, so none is kept that a concurrent import or
        registration made stale (reentrant: resolving a name imports, and an import runs code)."""
        self._choose_hook = choose_hook

    def register(self, materializer: type[Materializer] | Materializer, *, plugin: str) -> None:
        instance = materializer() if isinstance(materializer, type) else materializer
        if not isinstance(instance, Materializer):
            raise PluginError(
                f"plugin {plugin!r} registered {materializer!r}, which is not a "
                "flow_artifacts.Materializer subclass"
            )
        mid = getattr(instance, "id", None)
        if not isinstance(mid, str) or not mid:
            raise PluginError(f"plugin {plugin!r} registered {instance!r} without a string `id`")
        if mid in self._by_id:
            raise PluginError(
                f"materializer id {mid!r} is registered twice: by plugin {self._owner[mid]!r} "
                f"and by plugin {plugin!r}. Uninstall or block one of them with "
                "FLOW_ARTIFACTS_DISABLE_PLUGINS."
            )
        with self._planning:
            self._by_id[mid] = instance
            self._owner[mid] = plugin
            self._plans.clear()

    def get(self, materializer_id: str) -> Materializer:
        try:
            return self._by_id[materializer_id]
        except KeyError:
            raise NoMaterializerFound(
                f"no materializer with id {materializer_id!r}; registered: {self.describe_ids()}. "
                "Install the plugin that provides it, or check FLOW_ARTIFACTS_DISABLE_PLUGINS."
            ) from None

    def owner(self, materializer_id: str) -> str:
        return self._owner[materializer_id]

    def __iter__(self) -> Iterator[Materializer]:
        return iter(self._by_id.values())

    def __contains__(self, materializer_id: object) -> bool:
        return materializer_id in self._by_id

    def describe_ids(self) -> str:
        return ", ".join(sorted(self._by_id)) or "(none)"

    def choose(
        self,
        obj: Any,
        *,
        materializer: str | None = None,
        overrides: Mapping[str, str] | None = None,
        allow_pickle: bool = True,
    ) -> Materializer:
        """The materializer for `obj`; raises when none accepts it or two tie."""
        explanation = self.explain(
            obj, materializer=materializer, overrides=overrides, allow_pickle=allow_pickle
        )
        chosen = explanation.materializer
        if explanation.error is not None:
            raise explanation.error
        if chosen is None:
            raise NoMaterializerFound(
                f"no materializer accepts {explanation.type_name}: {explanation.reason}. "
                f"Registered: {self.describe_ids()}. Install a plugin for this type, pass "
                "materializer=..., or allow the pickle fallback."
            )
        if chosen.uses_pickle:
            safer = self._dispatch(obj, self._plan(type(obj)), allow_pickle=False, considered=[])
            if safer is not None:
                warnings.warn(
                    f"{explanation.type_name} is pickled by {chosen.id!r} although {safer.id!r} "
                    "can save it without pickle; pickles run code when loaded.",
                    PickleFallbackWarning,
                    stacklevel=3,
                )
        return chosen

    def explain(
        self,
        obj: Any,
        *,
        materializer: str | None = None,
        overrides: Mapping[str, str] | None = None,
        allow_pickle: bool = True,
    ) -> Explanation:
        plan = self._plan(type(obj))
        type_name = plan.type_name
        if materializer is not None:
            return Explanation(type_name, self.get(materializer), "asked for by id")
        overridden = self._override(plan, overrides)
        if overridden is not None:
            return overridden
        if self._choose_hook is not None:
            picked = self._choose_hook(obj, list(plan.candidates))
            if picked is not None:
                return Explanation(type_name, self.get(picked), "chosen by a plugin's hook")
        considered: list[str] = []
        try:
            chosen = self._dispatch(obj, plan, allow_pickle=allow_pickle, considered=considered)
        except AmbiguousMaterializer as exc:
            return Explanation(type_name, None, str(exc), considered, error=exc)
        if chosen is None:
            return Explanation(type_name, None, "no registered type matches", considered)
        return Explanation(type_name, chosen, considered[-1], considered)

    def explain_type(
        self,
        cls: type,
        *,
        materializer: str | None = None,
        overrides: Mapping[str, str] | None = None,
        allow_pickle: bool = True,
    ) -> Explanation:
        """Like `explain`, for a type rather than a value: value checks (`accepts`) are skipped."""
        plan = self._plan(cls)
        type_name = plan.type_name
        if materializer is not None:
            return Explanation(type_name, self.get(materializer), "asked for by id")
        overridden = self._override(plan, overrides)
        if overridden is not None:
            return overridden
        fallback = None
        for depth, base, handling in plan.levels:
            matching = [m for m in handling if allow_pickle or not m.uses_pickle]
            regular = _highest([m for m in matching if not m.fallback])
            fallback = fallback or next((m for m in matching if m.fallback), None)
            if len(regular) > 1:
                ids = ", ".join(f"{m.id} (plugin {self._owner[m.id]!r})" for m in regular)
                error = AmbiguousMaterializer(
                    f"{type_name} is claimed equally by {ids} at {dotted_name(base)}; {_TIE_FIX}"
                )
                return Explanation(type_name, None, str(error), error=error)
            if regular:
                how = "exact type" if depth == 0 else f"base class {dotted_name(base)}"
                reason = f"{regular[0].id} registered for {how} (values it declines fall through)"
                reason += self._outranked(regular[0], matching)
                return Explanation(type_name, regular[0], reason)
        if fallback is not None:
            return Explanation(type_name, fallback, f"{fallback.id} is the fallback")
        return Explanation(type_name, None, "no registered type matches")

    def _override(self, plan: _TypePlan, overrides: Mapping[str, str] | None) -> Explanation | None:
        """The stack override for the type or its nearest base, by full or top-level dotted name
        (`pyarrow.lib.Table` or `pyarrow.Table`)."""
        if overrides:
            for key in plan.override_keys:
                if key in overrides:
                    return Explanation(
                        plan.type_name, self.get(overrides[key]), f"stack override for {key}"
                    )
        return None

    def _plan(self, cls: type) -> _TypePlan:
        """The dispatch plan of `cls`, made again once the registry changes or a module is
        imported that a handled name waited for."""
        if self._pending and not sys.modules.keys().isdisjoint(self._pending):
            with self._planning:
                self._plans.clear()
                self._pending = frozenset()  # filled again by the `_resolve` calls of new plans
        try:
            plan = self._plans.get(cls)
        except TypeError:  # a metaclass made the type unhashable: plan it at each call
            with self._planning:
                return self._make_plan(cls)
        if plan is None:
            with self._planning:
                if len(self._plans) >= _MAX_PLANS:  # types made at run time must not pile up
                    self._plans.clear()
                plan = self._plans[cls] = self._make_plan(cls)
        return plan

    def _make_plan(self, cls: type) -> _TypePlan:
        handled = {m.id: self._handled_types(m) for m in self._by_id.values()}
        levels = tuple(
            (depth, base, handling)
            for depth, base in enumerate(cls.__mro__)
            if (handling := tuple(m for m in self._by_id.values() if base in handled[m.id]))
        )
        return _TypePlan(
            type_name=dotted_name(cls),
            levels=levels,
            candidates=tuple(m.id for m in self._by_id.values() if any(m in h for *_, h in levels)),
            override_keys=tuple(
                key
                for base in cls.__mro__
                for key in (
                    dotted_name(base),
                    f"{base.__module__.split('.')[0]}.{base.__qualname__}",
                )
            ),
        )

    def _dispatch(
        self, obj: Any, plan: _TypePlan, *, allow_pickle: bool, considered: list[str]
    ) -> Materializer | None:
        fallbacks: list[Materializer] = []
        for depth, cls, matching in plan.levels:
            accepted = []
            for m in matching:
                if m.uses_pickle and not allow_pickle:
                    considered.append(f"{m.id} handles {dotted_name(cls)} but pickle is disabled")
                elif not m.accepts(obj):
                    considered.append(f"{m.id} handles {dotted_name(cls)} but declines this value")
                elif m.fallback:
                    fallbacks.append(m)
                else:
                    accepted.append(m)
            winners = _highest(accepted)
            if len(winners) > 1:
                ids = ", ".join(f"{m.id} (plugin {self._owner[m.id]!r})" for m in winners)
                raise AmbiguousMaterializer(
                    f"{plan.type_name} is claimed equally by {ids} at "
                    f"{dotted_name(cls)}; {_TIE_FIX}"
                )
            if winners:
                how = "exact type" if depth == 0 else f"base class {dotted_name(cls)}"
                considered.append(
                    f"{winners[0].id} registered for {how} (most specific in MRO)"
                    + self._outranked(winners[0], accepted)
                )
                return winners[0]
        if fallbacks:
            considered.append(f"{fallbacks[0].id} is the fallback for objects no one else takes")
            return fallbacks[0]
        return None

    def _outranked(self, winner: Materializer, rivals: list[Materializer]) -> str:
        """How `winner` beat rivals for the same type by priority, for explanations."""
        beaten = [m for m in rivals if m is not winner and not m.fallback]
        if not beaten:
            return ""
        names = ", ".join(
            f"{m.id} (plugin {self._owner[m.id]!r}, priority {m.priority})" for m in beaten
        )
        return f"; priority {winner.priority} (plugin {self._owner[winner.id]!r}) over {names}"

    def _handled_types(self, m: Materializer) -> tuple[type, ...]:
        return tuple(t for t in (self._resolve(h) for h in m.handles) if t is not None)

    def _resolve(self, handled: str | type) -> type | None:
        if isinstance(handled, type):
            return handled
        if handled in self._resolved:
            return self._resolved[handled]
        module_name, _, attr = handled.rpartition(".")
        top = module_name.split(".")[0]
        if top not in sys.modules:
            self._pending |= {top}
            return None  # nothing of this type can exist yet; resolve again later
        try:
            resolved = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError):
            resolved = None
        self._resolved[handled] = resolved if isinstance(resolved, type) else None
        return self._resolved[handled]
