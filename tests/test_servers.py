"""Smoke tests of the test servers: each is used for real through the client the library uses."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable
from typing import Any

import fsspec
import pytest
import sqlalchemy as sa

from tests import servers

OBJECT_STORES = ["s3_bucket_url", "gcs_bucket_url", "azure_container_url"]


@pytest.mark.parametrize("target_fixture", OBJECT_STORES)
def test_object_store_round_trip(target_fixture: str, request: pytest.FixtureRequest) -> None:
    root, storage_options = request.getfixturevalue(target_fixture)
    fs, root_path = fsspec.core.url_to_fs(root, **storage_options)
    path = f"{root_path}/dir/object.bin"
    data = os.urandom(300_000)

    fs.pipe_file(path, data)

    assert fs.ls(f"{root_path}/dir", detail=False) == [path]
    assert fs.cat_file(path) == data
    assert fs.cat_file(path, start=1000, end=1100) == data[1000:1100]
    sign_kwargs: dict[str, Any] = {}
    if target_fixture == "gcs_bucket_url":
        sign_kwargs = {"credentials": servers.gcs_signing_credentials(), "version": "v4"}
    with urllib.request.urlopen(fs.sign(path, expiration=300, **sign_kwargs), timeout=10) as resp:
        assert resp.read() == data
    fs.rm(path)
    assert not fs.exists(path)


def test_postgres_round_trip(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id integer PRIMARY KEY, name text)"))
            conn.execute(sa.text("INSERT INTO t VALUES (1, 'one'), (2, 'two')"))
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, name FROM t ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [(1, "one"), (2, "two")]
            assert conn.execute(sa.text("SELECT version()")).scalar_one().startswith("PostgreSQL")
    finally:
        engine.dispose()


def test_postgres_databases_are_separate(postgres_database_factory: Callable[[], str]) -> None:
    first, second = postgres_database_factory(), postgres_database_factory()
    assert first != second
    engine = sa.create_engine(first)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE only_in_first (id integer)"))
    finally:
        engine.dispose()
    engine = sa.create_engine(second)
    try:
        assert not sa.inspect(engine).has_table("only_in_first")
    finally:
        engine.dispose()


def test_missing_server_fails_with_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers, "AZURITE_BLOB", servers.REPO_ROOT / "no-such-azurite")
    with pytest.raises(servers.ServerUnavailable, match="install-test-servers.sh"):
        with servers.azure_server():
            pass
