"""Which artifact an in-memory object came from, so passing it to a step records lineage.

Objects are known by `id()`. A run holds a strong reference to each output it tracks, so no other
object can take its id while the run lasts. Weak references carry tracking past the run (and
across the implicit runs of steps called outside one) for objects that allow them; an entry goes
when its object does, so a reused id never points at the wrong artifact.

Immutable scalars are never tracked: Python shares equal small ints and strings between unrelated
code, so their identity says nothing about where they came from.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..artifact import Artifact

UNTRACKED = frozenset({type(None), bool, int, float, complex, str, bytes})


def trackable(obj: Any) -> bool:
    return type(obj) not in UNTRACKED


class WeakTracker:
    """Artifacts of live objects, forgotten as each object is garbage collected."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref[Any], Artifact]] = {}

    def remember(self, obj: Any, artifact: Artifact) -> None:
        key = id(obj)
        entries = self._entries

        def forget(ref: weakref.ref[Any]) -> None:
            if entries.get(key, (None,))[0] is ref:
                del entries[key]

        try:
            entries[key] = (weakref.ref(obj, forget), artifact)
        except TypeError:  # dicts, lists, tuples: tracked by their run only
            pass

    def lookup(self, obj: Any) -> Artifact | None:
        entry = self._entries.get(id(obj))
        if entry is not None and entry[0]() is obj:
            return entry[1]
        return None


OUTLIVING_RUNS = WeakTracker()
"""Process-wide: objects outlive the run that made them, and so does what they came from."""
