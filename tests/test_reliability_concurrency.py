"""Eight processes writing 200 artifacts each into one stack, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from collections import defaultdict

import flow_artifacts as fa

from . import catalog_workers

WORKERS = 8
PER_WORKER = 200


def test_eight_writers_lose_nothing_and_number_versions_without_gaps(stack, catalog_url):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WORKERS) as pool:
        results = pool.starmap(
            catalog_workers.materialize_mixed,
            [(stack.store.url, catalog_url, w, PER_WORKER) for w in range(WORKERS)],
        )
    written = [item for worker in results for item in worker]
    assert len(written) == WORKERS * PER_WORKER

    listed = {a.id: a for a in fa.list_artifacts("busy", page_size=1000, stack=stack)}
    assert set(listed) == {artifact_id for artifact_id, _, _ in written}
    by_name: dict[str, list[int]] = defaultdict(list)
    for art in listed.values():
        by_name[art.name].append(art.version)
    for name, numbers in by_name.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), name
    assert len({a.path for a in listed.values()}) == len(listed)
    assert sorted(stack.store.list_artifacts()) == sorted(a.key for a in listed.values())
    for artifact_id, worker, i in written[:: len(written) // 50]:
        assert listed[artifact_id].load() == {"worker": worker, "i": i}
