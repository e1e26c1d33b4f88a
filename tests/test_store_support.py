"""What the store tests share: one fresh store of each kind per test, and ways to look inside it.

Import the `*_fixture` functions into a test module to use the fixtures they define. Every target
is a new, empty root: a directory, a memory prefix, or a new bucket/container on a real protocol
server.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.stores.paths import IDENTITY, JOURNAL_DIR
from tests import servers

TARGETS = ["local", "memory", "s3", "gcs", "azure"]
OBJECT_STORES = ["s3", "gcs", "azure"]
_FIXTURES = {"s3": "s3_bucket_url", "gcs": "gcs_bucket_url", "azure": "azure_container_url"}

Target = tuple[str, str, dict[str, Any]]
"""(kind, root URL, storage_options)."""


def open_target(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if kind == "local":
        return kind, str(tmp_path / "store"), {}
    if kind == "memory":
        return kind, f"memory://store-{uuid.uuid4().hex}", {}
    url, options = request.getfixturevalue(_FIXTURES[kind])
    return kind, url, dict(options)


@pytest.fixture(name="target", params=TARGETS)
def target_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    return open_target(request.param, request, tmp_path)


@pytest.fixture(name="object_target", params=OBJECT_STORES)
def object_target_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    return open_target(request.param, request, tmp_path)


@pytest.fixture(name="make_stack")
def make_stack_fixture(tmp_path: Path) -> Iterator[Callable[..., fa.Stack]]:
    """Builds stacks on a target, each with a new SQLite catalog unless `catalog_url` is given."""
    catalogs: list[Catalog] = []

    def make(target: Target, catalog_url: str | None = None, **store_options: Any) -> fa.Stack:
        _, url, options = target
        catalog = Catalog(catalog_url or f"sqlite:///{tmp_path / f'cat-{uuid.uuid4().hex}.db'}")
        catalogs.append(catalog)
        store = fa.ArtifactStore(url, **{**options, **store_options})
        return fa.Stack(store=store, catalog=catalog, plugins=store.plugins)

    yield make
    for catalog in catalogs:
        catalog.close()


def sign_options(kind: str) -> dict[str, Any]:
    """What `presigned_url` needs beyond the store's credentials: GCS signs with a key."""
    if kind == "gcs":
        return {"credentials": servers.gcs_signing_credentials(), "version": "v4"}
    return {}


def stored_files(store: fa.ArtifactStore) -> dict[str, bytes]:
    """Every object under the store's root but its identity record, relative path -> bytes.

    Temporaries and pending-write records are included: a settled write leaves none."""
    found = store.fs.find(store.root) if store.fs.exists(store.root) else []
    files = {p[len(store.root) :].lstrip("/"): p for p in found}
    return {rel: store.fs.cat_file(p) for rel, p in files.items() if rel != IDENTITY}


def artifact_files(store: fa.ArtifactStore) -> list[str]:
    """The stored files outside the journal (bytes and manifests), sorted."""
    return sorted(p for p in stored_files(store) if not p.startswith(JOURNAL_DIR + "/"))
