"""Store failures say what happened, name the store and the artifact, and never show a secret."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import textwrap
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import flow_artifacts as fa
from tests import servers
from tests.test_store_support import (  # noqa: F401  (fixtures)
    Target,
    make_stack_fixture,
    object_target_fixture,
    stored_files,
)


def closed_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def missing_root(target: Target) -> Target:
    kind, url, options = target
    scheme = url.split("://", 1)[0]
    return kind, f"{scheme}://missing-{uuid.uuid4().hex[:12]}", options


def full_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def test_a_missing_bucket_is_reported_and_never_created(
    object_target: Target, make_stack, tmp_path: Path
) -> None:
    kind, url, _ = missing_root(object_target)
    stack = make_stack((kind, url, object_target[2]))
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "f.txt").write_text("x")

    with pytest.raises(fa.StoreNotFound) as missing:
        fa.materialize(b"x", "model", "r1", "train", "demo", stack=stack)
    assert url in str(missing.value) and "demo/r1/train/model" in str(missing.value)
    with pytest.raises(fa.StoreNotFound):
        fa.upload_file(tmp_path / "tree", "tree", "demo", stack=stack)
    with pytest.raises(fa.StoreNotFound):
        stack.store.list_artifacts()
    with pytest.raises(fa.StoreNotFound):
        stack.store.exists("demo/r1/train/model")
    assert not stack.store.fs.exists(stack.store.root)


def test_a_bucket_deleted_under_the_catalog_is_reported(object_target: Target, make_stack) -> None:
    stack = make_stack(object_target)
    art = fa.materialize(b"x", "model", "r1", "train", "demo", stack=stack)
    fs, root = stack.store.fs, stack.store.root
    fs.rm(root, recursive=True)
    if fs.exists(root):
        fs.rmdir(root)

    with pytest.raises(fa.StoreNotFound, match="model"):
        fa.load(art.uri, stack=stack)


def test_anonymous_reads_on_s3_are_denied(s3_bucket_url, make_stack) -> None:
    url, options = s3_bucket_url
    art = fa.materialize(b"x", "model", "r1", "s", "demo", stack=make_stack(("s3", url, options)))
    anonymous = {"endpoint_url": options["endpoint_url"], "anon": True}
    reader = make_stack(("s3", url, anonymous))

    with pytest.raises(fa.StoreAccessDenied, match="model") as denied:
        reader.store.load(art.key)
    assert url in str(denied.value)


def test_a_wrong_azure_key_is_denied_and_not_shown(azure_container_url, make_stack) -> None:
    url, options = azure_container_url
    wrong_key = "W" * 86 + "=="
    bad = options["connection_string"].replace(servers.AZURITE_KEY, wrong_key)
    stack = make_stack(("azure", url, {"connection_string": bad}))

    with pytest.raises(fa.StoreAccessDenied, match="demo/r1/s/model") as denied:
        fa.materialize(b"x", "model", "r1", "s", "demo", stack=stack)
    assert url in str(denied.value) and wrong_key not in str(denied.value)
    assert wrong_key not in repr(stack) and wrong_key not in repr(stack.store)


def test_an_unreachable_s3_endpoint_fails_fast(make_stack) -> None:
    options = {
        "key": "k",
        "secret": "s",
        "endpoint_url": closed_endpoint(),
        "config_kwargs": {"connect_timeout": 1, "retries": {"max_attempts": 1}},
    }
    stack = make_stack(("s3", "s3://unreachable", options))
    started = time.monotonic()

    with pytest.raises(fa.StoreUnreachable, match="demo/r1/s/model") as unreachable:
        fa.materialize(b"x", "model", "r1", "s", "demo", stack=stack)
    assert time.monotonic() - started < 10
    assert "s3://unreachable" in str(unreachable.value)


def test_unreachable_gcs_and_azure_endpoints(make_stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """gcsfs and adlfs take no retry settings, and their backoff waits 30-90 s; the waits are
    skipped here (every retry still happens), so only the translation is under test."""
    real_sleep = asyncio.sleep

    async def no_backoff(delay: float, result: Any = None) -> Any:
        return await real_sleep(0, result)

    monkeypatch.setattr(asyncio, "sleep", no_backoff)
    endpoint = closed_endpoint()
    azure = (
        f"DefaultEndpointsProtocol=http;AccountName={servers.AZURITE_ACCOUNT};"
        f"AccountKey={servers.AZURITE_KEY};BlobEndpoint={endpoint}/{servers.AZURITE_ACCOUNT};"
    )
    targets = [
        ("gcs", "gs://unreachable", {"endpoint_url": endpoint, "token": "anon", "project": "p"}),
        ("azure", "az://unreachable", {"connection_string": azure}),
    ]
    for target in targets:
        stack = make_stack(target)
        with pytest.raises(fa.StoreUnreachable, match="demo/r1/s/model") as unreachable:
            fa.materialize(b"x", "model", "r1", "s", "demo", stack=stack)
        assert target[1] in str(unreachable.value)
        assert servers.AZURITE_KEY not in full_text(unreachable.value)


BLOCKED_IMPORT = textwrap.dedent("""
    import json, sys

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == sys.argv[1]:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Blocker())
    import flow_artifacts as fa
    try:
        fa.ArtifactStore(sys.argv[2])
    except fa.FlowArtifactsError as exc:
        print(json.dumps([type(exc).__name__, str(exc)]))
""")


@pytest.mark.parametrize(
    ("module", "url", "extra"),
    [("s3fs", "s3://bucket", "s3"), ("gcsfs", "gs://bucket", "gcs"), ("adlfs", "az://c", "azure")],
)
def test_a_missing_extra_names_its_install_command(module: str, url: str, extra: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_IMPORT, module, url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    kind, message = json.loads(done.stdout)

    assert kind == "StoreError"
    assert url in message and f'pip install "flow-artifacts[{extra}]"' in message


def catalog_bytes(catalog_url: str) -> bytes:
    """Everything the catalog holds: the SQLite file, or every row of every PostgreSQL table."""
    if catalog_url.startswith("sqlite:///"):
        return Path(catalog_url.removeprefix("sqlite:///")).read_bytes()
    engine = sa.create_engine(catalog_url)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            rows = [
                repr(row) for table in tables
                for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')).all()
            ]  # fmt: skip
    finally:
        engine.dispose()
    return "\n".join(rows).encode()


@pytest.mark.parametrize("catalog_backend", ["sqlite", "postgres"])
def test_credentials_are_never_stored_shown_or_logged(
    catalog_backend: str,
    request: pytest.FixtureRequest,
    make_stack,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    s3 = request.getfixturevalue("s3_server")
    azure = request.getfixturevalue("azure_server")
    key, secret = f"AKIA{uuid.uuid4().hex[:16].upper()}", f"secret-{uuid.uuid4().hex}"
    s3_options = {**s3.storage_options, "key": key, "secret": secret}
    targets = [
        ("s3", f"s3://{s3.create_bucket()}", s3_options),
        ("azure", f"az://{azure.create_container()}", azure.storage_options),
    ]
    secrets = [key, secret, servers.AZURITE_KEY]
    shown: list[str] = []
    caplog.set_level("DEBUG", logger="flow_artifacts")
    caplog.set_level("INFO")
    for target in targets:
        if catalog_backend == "sqlite":
            catalog_url = f"sqlite:///{tmp_path / f'{target[0]}.db'}"
        else:
            catalog_url = request.getfixturevalue("postgres_database_factory")()
        stack = make_stack(target, catalog_url=catalog_url)
        raw = fa.materialize({"rows": 3}, "raw", "r1", "ingest", "demo", stack=stack)
        art = fa.materialize(b"model", "model", "r1", "train", "demo", inputs=[raw], stack=stack)
        fa.tag(art, "prod", stack=stack)
        shown += [
            repr(stack),
            repr(stack.store),
            repr(art),
            str(fa.get_artifact(art.uri, stack=stack).manifest),
        ]
        with pytest.raises(fa.ArtifactExists) as taken:
            stack.store.materialize(b"again", "model", "r1", "train", "demo")
        with pytest.raises(fa.StoreNotFound) as missing:
            make_stack(missing_root(target)).store.list_artifacts()
        shown += [full_text(taken.value), full_text(missing.value)]
        stored = b"".join(stored_files(stack.store).values()) + catalog_bytes(catalog_url)
        for value in secrets:
            assert value.encode() not in stored, f"{value[:6]}... stored in {target[0]}"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for value in secrets:
        assert value not in "\n".join(shown) and value not in logged
