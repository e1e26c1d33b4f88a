"""The integration tests run on SQLite; those marked `on_both_catalogs` also on PostgreSQL (the
suite's throwaway server), where overlapping runs meet row locks instead of SQLite's file lock."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

import flow_artifacts as fa

from .kedro_project import PACKAGE

on_both_catalogs = pytest.mark.parametrize("catalog_backend", ["sqlite", "postgres"])


@pytest.fixture
def catalog_backend() -> str:
    """SQLite unless a test asks for both (`on_both_catalogs`)."""
    return "sqlite"


@pytest.fixture
def remote_stack_file(tmp_path, s3_bucket_url, postgres_url, monkeypatch) -> str:
    """A stack file on the suite's servers: the artifacts in a new bucket of the moto S3 server,
    the catalog in a new database of the throwaway PostgreSQL; its keys come from the
    environment, as a deployment's would."""
    url, options = s3_bucket_url
    monkeypatch.setenv("FA_TEST_S3_KEY", options["key"])
    monkeypatch.setenv("FA_TEST_S3_SECRET", options["secret"])
    monkeypatch.delenv("FLOW_ARTIFACTS_DISABLED", raising=False)
    path = tmp_path / "remote-stack.yaml"
    path.write_text(
        "project: remote\n"
        "artifact_store:\n"
        f"  url: '{url}/flow'\n"
        "  storage_options:\n"
        "    key: '${FA_TEST_S3_KEY}'\n"
        "    secret: '${FA_TEST_S3_SECRET}'\n"
        f"    endpoint_url: '{options['endpoint_url']}'\n"
        "    config_kwargs: {signature_version: s3v4}\n"
        f"catalog: {{url: '{postgres_url}'}}\n"
    )
    return str(path)


@pytest.fixture
def remote_stack(remote_stack_file):
    """The stack of `remote_stack_file`, active for the test."""
    import flow_artifacts as fa

    stack = fa.Stack.from_yaml(remote_stack_file)
    with fa.use_stack(stack):
        yield stack
    stack.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory, request: pytest.FixtureRequest) -> Path:
    """A Kedro project (tests/integrations/kedro_project.py) of the test module's own,
    written and bootstrapped once per module."""
    from kedro.framework.startup import bootstrap_project

    from .kedro_project import write_project

    module = request.module.__name__.rsplit(".", 1)[-1]
    root = write_project(tmp_path_factory.mktemp(module) / "demo")
    bootstrap_project(root)
    return root


@pytest.fixture
def kedro_env(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kedro without telemetry, with flow_artifacts' hooks on and the platform's start method
    for ParallelRunner; the project's nodes find it, and their meeting folder, by variable."""
    for variable in ("KEDRO_DISABLE_TELEMETRY", "DO_NOT_TRACK"):
        monkeypatch.setenv(variable, "1")
    monkeypatch.setenv("FA_KEDRO_PROJECT", str(project))
    monkeypatch.setenv("FA_KEDRO_MEETING", str(tmp_path / "meeting"))
    monkeypatch.delenv("FLOW_ARTIFACTS_DISABLED", raising=False)
    monkeypatch.delenv("KEDRO_MP_CONTEXT", raising=False)


def kedro_command(project: Path, stack, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`kedro *args` run in `project` by its console script, recording into `stack` (written
    out as a stack file: the catalog the test's fixture chose); its output as text."""
    stack_file = tmp_path / "stack.yaml"
    stack_file.write_text(
        f"artifact_store: {{url: '{stack.store.root}'}}\ncatalog: {{url: '{stack.catalog.url}'}}\n"
    )
    return subprocess.run(
        [str(Path(sys.executable).with_name("kedro")), *args],
        cwd=project,
        env={**os.environ, "FLOW_ARTIFACTS_STACK": str(stack_file), "COLUMNS": "500"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def recorded(stack: fa.Stack, run_id: str) -> dict:
    """What a run recorded, by names: its artifacts' steps, its step runs' statuses, inputs and
    outputs, and the lineage edges between its artifacts and step runs."""
    artifacts = {a.id: a for a in fa.list_artifacts(PACKAGE, run_id=run_id, stack=stack)}
    steps = {s.id: s for s in stack.catalog.step_runs_of_run(PACKAGE, run_id)}
    names = {id_: a.name for id_, a in artifacts.items()} | {
        id_: f"step {s.step}" for id_, s in steps.items()
    }
    edges = set()
    for artifact in artifacts.values():
        edges |= {(names[a], names[b]) for a, b in artifact.lineage(depth=2).edges}
    return {
        "artifacts": sorted((a.name, a.step, a.run_id == run_id) for a in artifacts.values()),
        "steps": {
            s.step: (
                s.status,
                sorted(names[i] for i in s.inputs),
                sorted(names[o] for o in s.outputs),
            )
            for s in steps.values()
        },
        "lineage": edges,
    }


@contextlib.contextmanager
def commits_on(catalog: fa.Catalog) -> Iterator[list[str]]:
    """Transactions committed on `catalog`'s database by connections opened meanwhile, however
    they are committed: through SQLAlchemy, or on a SQLite catalog's driver connection."""
    commits: list[str] = []
    target = catalog.engine.url

    def on_connect(dbapi_connection, _record) -> None:  # SQLite: its own COMMIT statements
        (_, _, path), *_ = dbapi_connection.execute("PRAGMA database_list")
        if path == target.database:
            dbapi_connection.set_trace_callback(
                lambda sql: commits.append(sql) if sql.strip() == "COMMIT" else None
            )

    def on_commit(conn) -> None:  # PostgreSQL: every commit goes through SQLAlchemy
        if conn.engine.url == target:
            commits.append("COMMIT")

    sqlite = target.get_backend_name() == "sqlite"
    event, listener = ("connect", on_connect) if sqlite else ("commit", on_commit)
    sqlalchemy.event.listen(sqlalchemy.engine.Engine, event, listener)
    try:
        yield commits
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, event, listener)
