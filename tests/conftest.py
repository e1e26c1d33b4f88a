"""Fixtures shared by the suite: a stack per test, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog

pytest_plugins = ["tests.server_fixtures", "tests.engine_fixtures"]

CATALOG_BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=CATALOG_BACKENDS)
def catalog_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def catalog_url_factory(
    catalog_backend: str, tmp_path, request: pytest.FixtureRequest
) -> Callable[[], str]:
    """Makes URLs of new, empty catalogs on the backend under test."""
    counter = itertools.count()
    if catalog_backend == "sqlite":
        return lambda: f"sqlite:///{tmp_path / f'catalog-{next(counter)}.db'}"
    make_database = request.getfixturevalue("postgres_database_factory")
    return make_database


@pytest.fixture
def catalog_url(catalog_url_factory: Callable[[], str]) -> str:
    return catalog_url_factory()


@pytest.fixture
def stack(tmp_path, catalog_url: str):
    catalog = Catalog(catalog_url)
    yield fa.Stack(store=fa.ArtifactStore(tmp_path / "artifacts"), catalog=catalog)
    catalog.close()


@pytest.fixture
def local_stack(tmp_path, monkeypatch):
    """The embedded default (local folder + SQLite) as the active stack, free of outside
    settings."""
    monkeypatch.delenv("FLOW_ARTIFACTS_STACK", raising=False)
    monkeypatch.delenv("FLOW_ARTIFACTS_DISABLED", raising=False)
    stack = fa.Stack.local(tmp_path / "fa")
    with fa.use_stack(stack):
        yield stack
    stack.close()
