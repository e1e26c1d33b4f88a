"""Code run in child processes by the catalog tests (importable by multiprocessing's spawn)."""

from __future__ import annotations

import os
import signal
import sys


def materialize_many(store_root: str, catalog_url: str, worker: int, count: int) -> list[int]:
    import flow_artifacts as fa
    from flow_artifacts.catalog import Catalog

    stack = fa.Stack(store=fa.ArtifactStore(store_root), catalog=Catalog(catalog_url))
    versions = []
    for i in range(count):
        art = fa.materialize(
            {"worker": worker, "i": i},
            name="shared",
            run_id=f"w{worker}-{i}",
            step_name="s",
            project="race",
            stack=stack,
        )
        versions.append(art.version)
    return versions


def die_between_bytes_and_row(store_root: str, catalog_url: str) -> None:
    """Write an artifact's bytes, then get SIGKILLed before its catalog row is committed."""
    import flow_artifacts as fa
    from flow_artifacts.catalog import Catalog

    def killed(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    stack = fa.Stack(store=fa.ArtifactStore(store_root), catalog=Catalog(catalog_url))
    fa.materialize(
        {"ok": True}, name="kept", run_id="r1", step_name="s", project="crash", stack=stack
    )
    stack.catalog.record = killed  # type: ignore[method-assign]
    fa.materialize(
        {"lost": True}, name="doomed", run_id="r1", step_name="s", project="crash", stack=stack
    )


def materialize_mixed(
    store_root: str, catalog_url: str, worker: int, count: int
) -> list[tuple[str, int, int]]:
    """`count` artifacts: every third under a name all workers share, the rest under own names."""
    import flow_artifacts as fa
    from flow_artifacts.catalog import Catalog

    stack = fa.Stack(store=fa.ArtifactStore(store_root), catalog=Catalog(catalog_url))
    written = []
    for i in range(count):
        name = "shared" if i % 3 == 0 else f"w{worker}-n{i % 5}"
        art = fa.materialize(
            {"worker": worker, "i": i}, name, f"run-{worker}-{i}", "s", "busy", stack=stack
        )
        written.append((art.id, worker, i))
    return written


def materialize_grid(store_root: str, catalog_url: str, runs: list[int], names: int) -> int:
    """For each run in `runs`, one small report under each of `names` names: a new version each."""
    import flow_artifacts as fa
    from flow_artifacts.catalog import Catalog

    stack = fa.Stack(store=fa.ArtifactStore(store_root), catalog=Catalog(catalog_url))
    for run in runs:
        for n in range(names):
            fa.materialize(
                {"run": run, "n": n}, f"n{n:04d}", f"r{run:04d}", "s", "many", stack=stack
            )
    stack.catalog.close()
    return len(runs) * names


if __name__ == "__main__":
    die_between_bytes_and_row(sys.argv[1], sys.argv[2])
