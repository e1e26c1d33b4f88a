"""The integration tests run on SQLite; those marked `on_both_catalogs` also on PostgreSQL (the
suite's throwaway server), where overlapping runs meet row locks instead of SQLite's file lock."""

from __future__ import annotations

import pytest

on_both_catalogs = pytest.mark.parametrize("catalog_backend", ["sqlite", "postgres"])


@pytest.fixture
def catalog_backend() -> str:
    """SQLite unless a test asks for both (`on_both_catalogs`)."""
    return "sqlite"
