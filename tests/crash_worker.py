"""A writer that announces each phase of `materialize` on stdout, for the crash tests to kill.

Phases: `bytes` (bytes streaming out), `published` (bytes complete, no manifest yet),
`row` (manifest written, catalog row not committed). The pauses only widen those windows; the
code under test is the library's, unchanged.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import flow_artifacts as fa
from flow_artifacts import hashing
from flow_artifacts.catalog import Catalog
from flow_artifacts.stores import store

PAUSE_S = 0.01
SLICE = 16 << 10


def announce(phase: str) -> None:
    print(f"phase:{phase}", flush=True)


def instrument() -> None:
    original_write = hashing.HashingWriter.write

    def sliced_write(self, data):  # type: ignore[no-untyped-def]
        view = memoryview(data).cast("B")
        for start in range(0, view.nbytes, SLICE):
            announce("bytes")
            time.sleep(PAUSE_S / 4)
            original_write(self, view[start : start + SLICE])
        return view.nbytes

    hashing.HashingWriter.write = sliced_write  # type: ignore[method-assign]

    original_record = Catalog.record

    def record(self, manifest, **kwargs):  # type: ignore[no-untyped-def]
        announce("published")
        time.sleep(PAUSE_S)
        return original_record(self, manifest, **kwargs)

    Catalog.record = record  # type: ignore[method-assign]

    original_manifest = store.ArtifactStore.write_manifest

    def write_manifest(self, manifest):  # type: ignore[no-untyped-def]
        original_manifest(self, manifest)
        announce("row")
        time.sleep(PAUSE_S)

    store.ArtifactStore.write_manifest = write_manifest  # type: ignore[method-assign]


def main(store_root: str, catalog_url: str, worker: str) -> None:
    instrument()
    stack = fa.Stack(store=fa.ArtifactStore(store_root), catalog=Catalog(catalog_url))
    payload = Path(store_root).parent / f"payload-{worker}.bin"
    payload.write_bytes(bytes(range(256)) * 1024)  # 256 KiB: sixteen slices
    for i in range(10_000):
        art = fa.materialize(
            payload, f"blob{i % 3}", f"{worker}-{i}", "write", "crash", stack=stack
        )
        print(f"committed:{art.id}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
