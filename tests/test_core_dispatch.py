"""Which materializer saves an object: MRO dispatch, plugin hooks, overrides, blocking, explain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.materializers.registry import dotted_name
from flow_artifacts.plugins import DISABLE_ENV, PluginHost, make_plugin_manager
from flow_artifacts.testing import assert_round_trip
from tests.core_plugins import (
    CsvWhenAskedPlugin,
    RegisterPlugin,
    host_with,
    materializer_for,
)

DATAFRAME = dotted_name(
    pd.DataFrame
)  # "pandas.DataFrame" on pandas 3, "pandas.core.frame..." before
BUILTIN_IDS = {
    "pandas.parquet",
    "pyarrow.parquet",
    "numpy.npy",
    "builtins.json",
    "builtins.bytes",
    "filesystem.path",
    "cloudpickle",
}


class SubFrame(pd.DataFrame):
    """A user's DataFrame subclass."""

    @property
    def _constructor(self) -> type[SubFrame]:
        return SubFrame


class SpecialFrame(SubFrame):
    pass


class Opaque:
    """Nothing but pickle can save this."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque)


@pytest.fixture
def memory_url() -> str:
    return f"memory://core-dispatch-{uuid.uuid4().hex}"


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator:
    """Makes stacks on a SQLite catalog, with the given plugin host and options."""
    catalogs: list[Catalog] = []

    def make(plugins: PluginHost | None = None, **options: object) -> fa.Stack:
        catalog = Catalog(f"sqlite:///{tmp_path / f'catalog-{len(catalogs)}.db'}")
        catalogs.append(catalog)
        host = plugins or host_with()
        store = fa.ArtifactStore(tmp_path / f"store-{len(catalogs)}", plugins=host)
        return fa.Stack(store=store, catalog=catalog, plugins=host, **options)  # type: ignore[arg-type]

    yield make
    for catalog in catalogs:
        catalog.close()


# --- dispatch along the MRO ----------------------------------------------------------------------


def test_a_dataframe_subclass_still_goes_to_pandas_parquet(memory_url: str) -> None:
    frame = SubFrame({"a": [1, 2]})
    assert host_with().materializers.choose(frame).id == "pandas.parquet"
    assert_round_trip(
        "pandas.parquet",
        frame,
        store_url=memory_url,
        equals=lambda saved, loaded: pd.testing.assert_frame_equal(loaded, pd.DataFrame(saved)),
    )
    explanation = host_with().materializers.explain(frame)
    assert f"base class {DATAFRAME}" in explanation.reason


def test_a_more_specific_registered_type_wins() -> None:
    special = materializer_for("tests.subframe", SubFrame)
    host = host_with(subframes=RegisterPlugin(special))
    assert host.materializers.choose(SubFrame({"a": [1]})).id == "tests.subframe"
    assert host.materializers.choose(SpecialFrame({"a": [1]})).id == "tests.subframe"
    assert host.materializers.choose(pd.DataFrame({"a": [1]})).id == "pandas.parquet"


def test_types_can_be_registered_by_dotted_name() -> None:
    by_name = materializer_for("tests.by-name", f"{__name__}.Opaque")
    host = host_with(named=RegisterPlugin(by_name))
    assert host.materializers.choose(Opaque()).id == "tests.by-name"


def test_equally_specific_claims_raise_ambiguous_naming_both_plugins() -> None:
    host = host_with(
        **{
            "plugin-a": RegisterPlugin(materializer_for("a.opaque", Opaque)),
            "plugin-b": RegisterPlugin(materializer_for("b.opaque", Opaque)),
        }
    )
    with pytest.raises(fa.AmbiguousMaterializer) as caught:
        host.materializers.choose(Opaque())
    message = str(caught.value)
    for part in ("a.opaque", "b.opaque", "'plugin-a'", "'plugin-b'"):
        assert part in message
    # Either choice can still be made explicitly.
    assert host.materializers.choose(Opaque(), materializer="b.opaque").id == "b.opaque"


def test_a_choose_materializer_hook_overrides_dispatch(memory_url: str) -> None:
    plugin = CsvWhenAskedPlugin()
    host = host_with(csv=plugin)
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert host.materializers.choose(frame).id == "pandas.parquet"  # the hook returned None
    assert "pandas.parquet" in plugin.seen[-1] and "cloudpickle" in plugin.seen[-1]
    frame.attrs["format"] = "csv"
    result = assert_round_trip(
        "tests.csv",
        frame,
        store_url=memory_url,
        plugins=host,
        equals=lambda saved, loaded: pd.testing.assert_frame_equal(
            loaded, saved, check_dtype=False
        ),
    )
    assert result.artifact.mime_type == "text/csv"
    assert "plugin's hook" in host.materializers.explain(frame).reason


def test_materializer_argument_overrides_dispatch(memory_url: str) -> None:
    store = fa.ArtifactStore(memory_url, plugins=host_with())
    with pytest.warns(fa.PickleFallbackWarning, match="builtins.json"):
        artifact = store.materialize({"a": 1}, "as-pickle", "r1", "s", materializer="cloudpickle")
    assert artifact.materializer == "cloudpickle" and store.load(artifact) == {"a": 1}


def test_stack_overrides_pick_a_materializer_by_type_name(stack_factory) -> None:
    stack = stack_factory(overrides={"pandas.DataFrame": "cloudpickle"})
    with pytest.warns(fa.PickleFallbackWarning):
        artifact = fa.materialize(pd.DataFrame({"a": [1]}), "frame", "r1", "s", stack=stack)
    assert artifact.materializer == "cloudpickle"
    assert "stack override for pandas.DataFrame" in str(fa.explain(pd.DataFrame(), stack=stack))


def test_forcing_pickle_when_a_safer_materializer_exists_warns(memory_url: str) -> None:
    store = fa.ArtifactStore(memory_url, plugins=host_with())
    with pytest.warns(fa.PickleFallbackWarning, match="pandas.parquet"):
        store.materialize(pd.DataFrame({"a": [1]}), "frame", "r1", "s", materializer="cloudpickle")


def test_the_pickle_fallback_does_not_warn_when_nothing_safer_exists(
    memory_url: str, recwarn: pytest.WarningsRecorder
) -> None:
    store = fa.ArtifactStore(memory_url, plugins=host_with())
    assert store.materialize(Opaque(), "model", "r1", "s").materializer == "cloudpickle"
    assert not [w for w in recwarn if issubclass(w.category, fa.PickleFallbackWarning)]


def test_without_pickle_unknown_objects_raise_listing_registered_ids(memory_url: str) -> None:
    store = fa.ArtifactStore(memory_url, plugins=host_with())
    with pytest.raises(fa.NoMaterializerFound) as caught:
        store.materialize(Opaque(), "model", "r1", "s", allow_pickle=False)
    for mid in BUILTIN_IDS:
        assert mid in str(caught.value)
    assert f"{__name__}.Opaque" in str(caught.value)
    assert store.list_artifacts() == []


def test_an_unknown_materializer_id_raises_listing_registered_ids(memory_url: str) -> None:
    store = fa.ArtifactStore(memory_url, plugins=host_with())
    with pytest.raises(fa.NoMaterializerFound, match="'tests.nope'.*numpy.npy"):
        store.materialize({"a": 1}, "x", "r1", "s", materializer="tests.nope")


# --- registration and blocking -------------------------------------------------------------------


def test_a_duplicate_materializer_id_raises_naming_both_plugins() -> None:
    host = host_with(impostor=RegisterPlugin(materializer_for("pandas.parquet", Opaque)))
    with pytest.raises(fa.PluginError) as caught:
        host.materializers  # noqa: B018 - registration happens on first use
    assert "'pandas.parquet'" in str(caught.value)
    assert "'pandas_parquet'" in str(caught.value) and "'impostor'" in str(caught.value)


def test_registering_something_that_is_not_a_materializer_names_the_plugin() -> None:
    class NotAMaterializer:
        id = "tests.bogus"

    host = host_with(sloppy=RegisterPlugin(NotAMaterializer))  # type: ignore[arg-type]
    with pytest.raises(fa.PluginError, match="'sloppy'"):
        host.materializers  # noqa: B018


def test_a_hook_that_does_not_exist_is_caught() -> None:
    class Typo:
        @fa.hookimpl
        def register_materialisers(self, register: object) -> None:  # British spelling
            pass

    pm = make_plugin_manager(load_entry_points=False)
    pm.register(Typo(), name="typo")
    with pytest.raises(Exception, match="register_materialisers"):
        pm.check_pending()


def test_blocking_a_builtin_plugin_removes_its_materializer(memory_url: str) -> None:
    host = PluginHost(make_plugin_manager(blocked=["numpy_npy"], load_entry_points=False))
    assert "numpy.npy" not in host.materializers
    blocked = {info.name for info in host.describe() if info.blocked}
    assert blocked == {"numpy_npy"}
    store = fa.ArtifactStore(memory_url, plugins=host)
    assert store.materialize(np.arange(3), "arr", "r1", "s").materializer == "cloudpickle"
    with pytest.raises(fa.NoMaterializerFound):
        store.materialize(np.arange(3), "arr2", "r1", "s", allow_pickle=False)


def test_the_environment_variable_blocks_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_ENV, " numpy_npy , json_report ")
    host = PluginHost(make_plugin_manager(load_entry_points=False))
    assert "numpy.npy" not in host.materializers and "builtins.json" not in host.materializers
    assert "pandas.parquet" in host.materializers
    # An explicit list wins over the environment.
    assert "numpy.npy" in PluginHost(make_plugin_manager(blocked=[])).materializers


def test_the_environment_variable_applies_to_the_default_stores() -> None:
    script = (
        "import json, uuid, numpy as np, flow_artifacts as fa\n"
        "store = fa.ArtifactStore(f'memory://env-{uuid.uuid4().hex}')\n"
        "print(json.dumps(store.materialize(np.arange(3), 'a', 'r', 's').materializer))\n"
    )
    env = {**os.environ, DISABLE_ENV: "numpy_npy"}
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    assert json.loads(out.stdout) == "cloudpickle"


def test_builtins_are_described_as_builtin_plugins() -> None:
    infos = {info.name: info for info in host_with().describe()}
    assert {"pandas_parquet", "numpy_npy", "json_report", "cloudpickle_object"} <= set(infos)
    assert all(infos[name].builtin and not infos[name].blocked for name in infos)


# --- explain -------------------------------------------------------------------------------------


def test_explain_says_which_materializer_and_why(stack_factory) -> None:
    stack = stack_factory()
    text = str(fa.explain(pd.DataFrame({"a": [1]}), stack=stack))
    assert text.startswith(f"{DATAFRAME} -> pandas.parquet: ")
    assert "exact type" in text

    subclass = str(fa.explain(SubFrame({"a": [1]}), stack=stack))
    assert f"{__name__}.SubFrame -> pandas.parquet" in subclass
    assert f"base class {DATAFRAME}" in subclass

    fallback = str(fa.explain(lambda: None, stack=stack))
    assert "-> cloudpickle" in fallback and "fallback" in fallback

    forced = fa.explain({"a": 1}, materializer="builtins.bytes", stack=stack)
    assert forced.materializer_id == "builtins.bytes" and "asked for by id" in str(forced)


def test_explain_lists_who_declined_when_nothing_accepts(stack_factory) -> None:
    stack = stack_factory(allow_pickle=False)
    explanation = fa.explain(np.array([object()], dtype=object), stack=stack)
    text = str(explanation)
    assert explanation.materializer_id is None
    assert text.startswith("numpy.ndarray -> no materializer")
    assert "numpy.npy handles numpy.ndarray but declines this value" in text
    assert "cloudpickle handles builtins.object but pickle is disabled" in text


def test_explain_reports_none_as_its_registered_exact_type(stack_factory) -> None:
    # builtins.json lists "builtins.NoneType" in `handles`; `None` should match it exactly.
    text = str(fa.explain(None, stack=stack_factory()))
    assert text.startswith("builtins.NoneType -> builtins.json")
    assert "exact type" in text
