"""Dispatch remembers per type what does not depend on the value: what it remembers never outlives
a change to the registry or to which modules are imported, and value checks still run each call."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.materializers.registry import Dispatch
from tests.core_plugins import host_with, materializer_for


class Thing:
    """A type no built-in materializer handles but the pickle fallback."""


class Shouting(type):
    """A metaclass that makes its classes unhashable, as an `__eq__` without `__hash__` does."""

    def __eq__(cls, other: object) -> bool:
        return cls is other


class Odd(metaclass=Shouting):
    pass


def test_a_materializer_registered_after_a_first_choice_is_chosen_for_its_type() -> None:
    registry = host_with().materializers
    assert registry.choose(Thing()).id == "cloudpickle"
    registry.register(materializer_for("tests.thing", Thing), plugin="late")
    assert registry.choose(Thing()).id == "tests.thing"
    assert registry.explain_type(Thing).materializer_id == "tests.thing"
    assert registry.choose({"a": 1}).id == "builtins.json"


def test_a_name_handled_in_a_module_imported_later_is_chosen_once_it_is_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the handled name reaches `Thing` through a module nobody has imported yet
    module = f"late_alias_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text(f"from {__name__} import Thing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    registry = host_with().materializers
    registry.register(materializer_for("tests.alias", f"{module}.Thing"), plugin="alias")
    assert registry.explain(Thing(), allow_pickle=False).materializer is None
    __import__(module)
    assert registry.choose(Thing(), allow_pickle=False).id == "tests.alias"
    assert registry.explain_type(Thing).materializer_id == "tests.alias"


def test_each_value_is_still_checked_by_the_materializer_of_its_type() -> None:
    registry = host_with().materializers
    assert registry.choose({"a": 1}).id == "builtins.json"
    # json declines a value it cannot write; the same type then falls back to pickle
    assert registry.choose({"a": Thing()}).id == "cloudpickle"
    assert registry.choose({"b": 2}).id == "builtins.json"


def test_overrides_and_options_apply_to_each_call_of_an_already_planned_type() -> None:
    registry = host_with().materializers
    overrides: dict[str, str] = {}
    dispatch = Dispatch(registry, overrides=overrides)
    assert dispatch.choose({"a": 1}).id == "builtins.json"
    overrides["builtins.dict"] = "cloudpickle"  # the caller's mapping changed in place
    with pytest.warns(fa.PickleFallbackWarning):
        assert dispatch.choose({"a": 1}).id == "cloudpickle"
    assert Dispatch(registry, overrides={"builtins.object": "builtins.bytes"}).choose(
        {"a": 1}
    ).id == ("builtins.bytes")
    with pytest.raises(fa.ConfigError, match="takes no option 'level'"):
        Dispatch(registry, options={"level": 3}).choose({"a": 1})
    assert Dispatch(registry).choose({"a": 1}).id == "builtins.json"


def test_a_type_made_unhashable_by_its_metaclass_is_still_dispatched() -> None:
    registry = host_with().materializers
    with pytest.raises(TypeError):
        hash(Odd)
    assert registry.choose(Odd()).id == "cloudpickle"
    registry.register(materializer_for("tests.odd", Odd), plugin="odd")
    assert registry.choose(Odd()).id == "tests.odd"
