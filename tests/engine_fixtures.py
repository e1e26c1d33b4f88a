"""pytest fixtures for the engines steps run on: one Dask LocalCluster (2 process workers) and
one local Ray instance per session, each started lazily by the first test that asks for it.
Load with `pytest_plugins` in the top-level conftest.

Stacks travel as stack files whose secrets are `${VAR}`s, set in the environment before the
engines start their workers, so a secret in a task payload would be a leak the tests can see.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

S3_SECRET = "s3-secret-4f9c2e7a-never-in-a-task"
DB_PASSWORD = "db-password-8d1b3c55-never-in-a-task"
ENVIRONMENT = {"FA_TEST_S3_SECRET": S3_SECRET, "FA_TEST_DB_PASSWORD": DB_PASSWORD}


@pytest.fixture(scope="session")
def engine_environment(s3_server, postgres_server) -> Iterator[None]:
    """The variables the stack files name, set before any engine starts its workers: the
    suite's, and those of the team stack in docs/distributed.md, whose bucket, database and
    database user are made here."""
    values = {
        **ENVIRONMENT,
        "FA_TEST_S3_ENDPOINT": s3_server.endpoint_url,
        **team_stack_environment(s3_server, postgres_server),
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def dask_client(engine_environment) -> Iterator[object]:
    import distributed  # in the test extra: missing, the suite fails rather than skips

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="session")
def ray_instance(engine_environment) -> Iterator[None]:
    import ray  # in the test extra: missing, the suite fails rather than skips

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


def team_stack_environment(s3_server, postgres_server) -> dict[str, str]:
    """docs/distributed.md's `ml-artifacts` bucket and `flow` database (owned by the user
    `flow`), and the variables its stack file names."""
    import psycopg

    s3_server.create_bucket("ml-artifacts")
    with psycopg.connect(
        host=postgres_server.host, port=postgres_server.port, user="postgres", autocommit=True
    ) as conn:
        conn.execute("CREATE ROLE flow LOGIN")
        conn.execute("CREATE DATABASE flow OWNER flow")
    return {
        "FLOW_S3_KEY": s3_server.key,
        "FLOW_S3_SECRET": s3_server.secret,
        "FLOW_S3_ENDPOINT": s3_server.endpoint_url,
        "FLOW_DB_PASSWORD": DB_PASSWORD,  # trust auth: checked by nobody, but never leaked
        "FLOW_DB_HOST": f"{postgres_server.host}:{postgres_server.port}",
    }


@pytest.fixture
def stack_file(tmp_path: Path, s3_server, postgres_url: str) -> Path:
    """A stack on a new bucket and database, its secrets left to the environment."""
    return write_stack_file(tmp_path / "stack.yaml", s3_server, postgres_url)


def write_stack_file(path: Path, s3_server, postgres_url: str) -> Path:
    bucket = s3_server.create_bucket()
    catalog = postgres_url.replace("postgres@", "postgres:${FA_TEST_DB_PASSWORD}@", 1)
    path.write_text(
        "project: dist\n"
        "artifact_store:\n"
        f"  url: s3://{bucket}/artifacts\n"
        "  storage_options:\n"
        "    key: testing\n"
        "    secret: ${FA_TEST_S3_SECRET}\n"
        "    endpoint_url: ${FA_TEST_S3_ENDPOINT}\n"
        "    config_kwargs: {signature_version: s3v4}\n"
        f'catalog: {{url: "{catalog}"}}\n'
    )
    return path
