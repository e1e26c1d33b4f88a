"""pytest fixtures for the real servers in `tests/servers.py`; load with
`pytest_plugins = ["tests.server_fixtures"]` in the top-level conftest.

Each server is session-scoped and started lazily, only by the first test that asks for it; the
function-scoped fixtures give every test its own database, bucket or container on it, so tests
never see each other's data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests import servers

StorageTarget = tuple[str, dict[str, Any]]
"""(root URL such as "s3://bucket", fsspec storage_options)."""


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[servers.PostgresServer]:
    with servers.postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[servers.S3Server]:
    with servers.s3_server() as server:
        yield server


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[servers.GcsServer]:
    with servers.gcs_server() as server:
        yield server


@pytest.fixture(scope="session")
def azure_server() -> Iterator[servers.AzureServer]:
    with servers.azure_server() as server:
        yield server


@pytest.fixture
def postgres_database_factory(
    postgres_server: servers.PostgresServer,
) -> Iterator[Callable[[], str]]:
    """Makes new, empty databases and returns their URLs; drops them after the test."""
    names: list[str] = []

    def create() -> str:
        names.append(servers.unique_name("db_"))
        return postgres_server.create_database(names[-1])

    yield create
    for name in names:
        postgres_server.drop_database(name)


@pytest.fixture
def postgres_url(postgres_database_factory: Callable[[], str]) -> str:
    """SQLAlchemy URL of a new, empty database for this test."""
    return postgres_database_factory()


@pytest.fixture
def s3_bucket_url(s3_server: servers.S3Server) -> StorageTarget:
    return f"s3://{s3_server.create_bucket()}", s3_server.storage_options


@pytest.fixture
def gcs_bucket_url(gcs_server: servers.GcsServer) -> StorageTarget:
    return f"gs://{gcs_server.create_bucket()}", gcs_server.storage_options


@pytest.fixture
def azure_container_url(azure_server: servers.AzureServer) -> StorageTarget:
    return f"az://{azure_server.create_container()}", azure_server.storage_options
