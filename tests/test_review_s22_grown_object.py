"""A whole-file artifact on an object store whose object someone grew: the verified load reads
at most a chunk past the recorded size, never the whole object, and refuses it (memory stays
bounded whatever the object grew to; a pickle from it never runs). The load runs in a child
process, whose memory is measured apart from the S3 server's (a thread of this one)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.stores.transfer import READ_CHUNK
from tests.pickle_payload import Payload

GROWN = 96 << 20
BOUND = GROWN // 2
"""Reading the grown object whole holds it at least twice (its chunks, then joined)."""
LOADER = """
import json, sys, tracemalloc
import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
url, options, catalog, uri = json.loads(sys.argv[1])
stack = fa.Stack(store=fa.ArtifactStore(url, **options), catalog=Catalog(catalog))
art = fa.get_artifact(uri, stack=stack)
tracemalloc.start()
try:
    art.load()
except fa.IntegrityError as error:
    print(json.dumps([str(error), tracemalloc.get_traced_memory()[1]]))
"""


@pytest.fixture(name="s3_stack")
def s3_stack_fixture(s3_bucket_url, tmp_path: Path):
    url, options = s3_bucket_url
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    stack = fa.Stack(store=fa.ArtifactStore(url, **options), catalog=catalog)
    stack.settings = (url, options, catalog.url)  # type: ignore[attr-defined]
    yield stack
    catalog.close()


def grown_load(stack: fa.Stack, art: fa.Artifact) -> tuple[str, int]:
    """Grows the artifact's object, loads it in a child process: (its error, its peak memory)."""
    stack.store.fs.pipe_file(stack.store.full_path(art.manifest.data_path), b"\0" * GROWN)
    args = json.dumps([*stack.settings, art.uri])  # type: ignore[attr-defined]
    done = subprocess.run(
        [sys.executable, "-c", LOADER, args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    error, peak = json.loads(done.stdout)
    return error, peak


@pytest.mark.parametrize("size", [1000, READ_CHUNK + 1000], ids=["small", "past-a-chunk"])
def test_a_grown_object_is_refused_without_reading_it_whole(s3_stack: fa.Stack, size) -> None:
    art = fa.materialize(b"x" * size, "blob", "r1", "s", "p", stack=s3_stack)
    error, peak = grown_load(s3_stack, art)
    assert "is corrupted" in error and "p/r1/s/blob" in error
    assert peak < BOUND


def test_a_grown_pickle_is_refused_and_never_runs(s3_stack: fa.Stack, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    art = fa.materialize(Payload(marker), "model", "r1", "s", "p", stack=s3_stack)
    assert art.manifest.materializer == "cloudpickle"
    error, peak = grown_load(s3_stack, art)
    assert "is corrupted" in error and peak < BOUND
    assert not marker.exists()


@pytest.mark.parametrize("target", ["s3_bucket_url", "gcs_bucket_url", "azure_container_url"])
@pytest.mark.parametrize("size", [0, 1000, READ_CHUNK + 1000])
def test_an_intact_object_loads_from_each_object_store(request, target, size, tmp_path) -> None:
    url, options = request.getfixturevalue(target)
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    stack = fa.Stack(store=fa.ArtifactStore(url, **options), catalog=catalog)
    art = fa.materialize(b"x" * size, "blob", "r1", "s", "p", stack=stack)
    assert fa.get_artifact(art.uri, stack=stack).load() == b"x" * size
    catalog.close()
