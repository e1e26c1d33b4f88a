"""A writer of batches (`materialize_many`) that announces each manifest it publishes, for the
batch crash test to kill between two of them (inside the batch's one catalog transaction).

Prints `committed:<name>` for every artifact of a batch once the batch returned. The pause only
widens the window; the code under test is the library's, unchanged.
"""

from __future__ import annotations

import sys
import time

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.stores import store

BATCH = 5


def main(store_root: str, catalog_url: str) -> None:
    original = store.ArtifactStore.write_manifest

    def write_manifest(self, manifest):  # type: ignore[no-untyped-def]
        original(self, manifest)
        print(f"published:{manifest.name}", flush=True)
        time.sleep(0.01)

    store.ArtifactStore.write_manifest = write_manifest  # type: ignore[method-assign]
    stack = fa.Stack(store=fa.ArtifactStore(store_root), catalog=Catalog(catalog_url))
    for n in range(1000):
        reports = {f"b{n}-{i}": {"batch": n, "item": i} for i in range(BATCH)}
        done = fa.materialize_many(reports, f"run{n}", "write", "batch", stack=stack)
        for name in done:
            print(f"committed:{name}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
