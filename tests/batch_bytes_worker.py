"""A writer of batches (`materialize_many`) that announces the bytes of each artifact once they
are in place (before the batch's transaction, before any manifest), for the test that kills a
batch while it writes bytes.

Prints `wrote:<name>` after each artifact's bytes and `committed:<name>` for every artifact of a
batch once the batch returned. The pause after each artifact only widens the window the test
kills in; the code under test is the library's, unchanged.
"""

from __future__ import annotations

import sys
import time

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.stores import store

BATCH = 5


def main(store_root: str, catalog_url: str) -> None:
    original = store.ArtifactStore.write_data

    def write_data(self, obj, choose, **kwargs):  # type: ignore[no-untyped-def]
        manifest = original(self, obj, choose, **kwargs)
        print(f"wrote:{manifest.name}", flush=True)
        time.sleep(0.05)
        return manifest

    store.ArtifactStore.write_data = write_data  # type: ignore[method-assign]
    stack = fa.Stack(store=fa.ArtifactStore(store_root), catalog=Catalog(catalog_url))
    for n in range(1000):
        reports = {f"b{n}-{i}": {"batch": n, "item": i} for i in range(BATCH)}
        done = fa.materialize_many(reports, f"run{n}", "write", "batch", stack=stack)
        for name in done:
            print(f"committed:{name}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
