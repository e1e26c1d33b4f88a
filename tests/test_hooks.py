"""Every hook is documented with its exact signature and exercised by a test plugin.

This is the check datasette runs on its own hooks: a hook added without documentation, or
without a plugin in the tests that implements it, fails here.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

import flow_artifacts as fa
from flow_artifacts import hookspecs
from flow_artifacts.errors import PluginError, StoreError

from . import core_plugins
from .core_plugins import host_with

PLUGINS_DOC = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
HOOKS = sorted(
    name
    for name, value in vars(hookspecs).items()
    if callable(value) and hasattr(value, hookspecs.PROJECT_NAME + "_spec")
)


def signature(name: str) -> str:
    params = inspect.signature(getattr(hookspecs, name)).parameters
    return f"{name}({', '.join(params)})"


def test_there_are_hooks_to_check():
    assert HOOKS == [
        "choose_materializer",
        "register_executors",
        "register_materializers",
        "register_store_backends",
    ]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_exact_signature(hook):
    assert f"`{signature(hook)}`" in PLUGINS_DOC.read_text()


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test_plugin_implementing_it(hook):
    implemented = {
        name
        for plugin in vars(core_plugins).values()
        if inspect.isclass(plugin)
        for name, member in vars(plugin).items()
        if hasattr(member, hookspecs.PROJECT_NAME + "_impl")
    }
    assert hook in implemented


class VaultFileSystem(MemoryFileSystem):
    """A third-party fsspec filesystem: an in-memory store under its own protocol."""

    protocol = ("vault",)
    store: dict = {}  # its own space, apart from memory://
    pseudo_dirs = [""]


@pytest.fixture
def vault_protocol():
    fsspec.register_implementation("vault", VaultFileSystem, clobber=True)
    yield
    VaultFileSystem.store.clear()


def test_a_plugin_store_backend_describes_its_protocol(vault_protocol):
    backend = fa.StoreBackend("vault", ("vault",), atomic_rename=True)
    host = host_with(vault=core_plugins.StoreBackendPlugin(backend))
    assert host.store_backends.for_protocol("vault") is backend
    store = fa.ArtifactStore("vault://team/artifacts", plugins=host)
    assert store.backend is backend
    art = store.materialize({"rows": 3}, "report", "r1", "s", "demo")
    assert store.load(art.key) == {"rows": 3}
    assert art.checksum.startswith("sha256:")


def test_a_plugin_store_backend_names_its_missing_package(vault_protocol):
    backend = fa.StoreBackend(
        "vault", ("vault",), requires="no_such_vault_sdk", install="pip install vault-sdk"
    )
    host = host_with(vault=core_plugins.StoreBackendPlugin(backend))
    with pytest.raises(StoreError, match="pip install vault-sdk"):
        fa.ArtifactStore("vault://team/artifacts", plugins=host)


def test_a_protocol_claimed_twice_names_both_plugins():
    host = host_with(
        mine=core_plugins.StoreBackendPlugin(fa.StoreBackend("mine", ("s3",))),
    )
    with pytest.raises(PluginError) as caught:
        host.store_backends  # noqa: B018 (building the registry is what fails)
    assert "'s3'" in str(caught.value)
    assert "mine" in str(caught.value) and "builtin_backends" in str(caught.value)
