"""The integration tests run on SQLite; those marked `on_both_catalogs` also on PostgreSQL (the
suite's throwaway server), where overlapping runs meet row locks instead of SQLite's file lock."""

from __future__ import annotations

import pytest

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
