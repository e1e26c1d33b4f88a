"""A writer that blocks mid-write and says so on stdout, for the gc tests to SIGKILL.

Modes: `folder` writes one file of a folder artifact, then blocks; `multipart` streams 16 MiB
in 5 MiB parts (so S3 starts a multipart upload), then blocks before completing it; `rm` commits
an artifact, then deletes it and blocks after its row is gone, before its files go (the pause
only holds that window open; the code under test is the library's).
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.materializers.base import ArtifactKind, Materializer
from tests.core_plugins import RegisterPlugin, host_with

MIB = 1 << 20


def block() -> None:
    print("phase:blocked", flush=True)
    threading.Event().wait()


class BlockingFolder(Materializer):
    id = "tests.blocking-folder"
    handles = ()
    kind = ArtifactKind.FILE
    directory = True

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        fs.makedirs(path, exist_ok=True)
        with fs.open(f"{path}/part-0.txt", "wb") as f:
            f.write(b"first part")
        block()
        return {}

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        raise AssertionError("never committed")


class BlockingMultipart(Materializer):
    id = "tests.blocking-multipart"
    handles = ()
    extension = ".bin"

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        f = fs.open(path, "wb", block_size=5 * MIB)
        for _ in range(16):
            f.write(b"x" * MIB)
        block()
        return {}

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        raise AssertionError("never committed")


def main(config: dict[str, Any]) -> None:
    plugins = host_with(blocking=RegisterPlugin(BlockingFolder, BlockingMultipart))
    store = fa.ArtifactStore(config["store"], plugins=plugins, **config["options"])
    stack = fa.Stack(store=store, catalog=Catalog(config["catalog"]), plugins=plugins)
    if config["mode"] == "rm":
        doomed = fa.materialize({"v": 1}, "doomed", "r1", "s", "demo", stack=stack)
        fa.ArtifactStore.delete = lambda self, ref: block()  # type: ignore[method-assign]
        fa.delete(doomed, stack=stack)
        return
    materializer = {"folder": BlockingFolder.id, "multipart": BlockingMultipart.id}[config["mode"]]
    fa.materialize(b"x", "killed", "r1", "s", "demo", materializer=materializer, stack=stack)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
