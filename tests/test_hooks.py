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
        "ambient_run",
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
    assert art.checksum.startswith("blake3:")


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


class FrameworkRun(fa.Run):
    """A framework's run whose task run `task-7` is the call of the step `prep`."""

    def framework_task(self, step):
        return ("task-7", "0f0e0d0c-0000-4000-8000-000000000007") if step.name == "prep" else None


def test_an_ambient_run_records_steps_called_outside_any_run(tmp_path, monkeypatch):
    from flow_artifacts import plugins

    @fa.step
    def prep(n: int) -> dict:
        return {"n": n}

    @fa.step
    def report(data: dict) -> dict:
        return {"total": data["n"]}

    stack = fa.Stack.local(tmp_path)
    ambient = FrameworkRun(project="fw", run_id="framework-run-1", stack=stack)
    host = host_with(fw=core_plugins.AmbientRunPlugin(ambient))
    monkeypatch.setattr(plugins, "default_plugin_host", lambda: host)
    ambient.start()
    assert fa.current_run() is ambient
    report(prep(2))
    ambient.finish("the framework says: failed, password=hunter2")
    monkeypatch.setattr(plugins, "default_plugin_host", lambda: host_with())
    assert fa.current_run() is None

    (run,) = stack.catalog.runs("fw")
    assert (run.run_id, run.status) == ("framework-run-1", "failed")
    assert "hunter2" not in run.error
    steps = {s.step: s for s in stack.catalog.step_runs_of_run("fw", "framework-run-1")}
    assert steps["task-7"].id == "0f0e0d0c-0000-4000-8000-000000000007"
    assert steps["task-7"].params == {"n": 2}
    made = stack.catalog.get("store://fw/prep")  # a task run's output goes by its step's name
    assert steps["report"].inputs == [made.id]
    stack.close()
