"""Many small artifacts in one project: paging, versions and latest lookup stay correct.

The artifacts are written through `fa.materialize` by one process per CPU, so they are real
(bytes, manifest, catalog row). The suite runs 2,000 of them; `benchmarks/bench_scale.py` runs this
same test with `FLOW_ARTIFACTS_MANY=1000x100` (100,000 artifacts) and reports the latencies, which
are printed here, never asserted.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable

import pytest
from click.testing import CliRunner

import flow_artifacts as fa
from flow_artifacts.cli.main import cli

from . import catalog_workers

NAMES, RUNS = (int(n) for n in os.environ.get("FLOW_ARTIFACTS_MANY", "50x40").split("x"))
TOTAL = NAMES * RUNS
PAGE = max(1, TOTAL // 100)  # a walk through the whole listing takes 100 pages at any scale
DEEP_PAGES = min(500, TOTAL // 100 - 1)


def median_ms(call: Callable[[], object], repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


@pytest.fixture
def many_artifacts(stack, catalog_url):
    workers = max(2, min(4, os.cpu_count() or 1))
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        written = pool.starmap(
            catalog_workers.materialize_grid,
            [(stack.store.url, catalog_url, list(range(w, RUNS, workers)), NAMES)
             for w in range(workers)],
        )  # fmt: skip
    assert sum(written) == TOTAL
    return stack


def test_many_artifacts_page_and_resolve(many_artifacts, catalog_url, tmp_path, capsys):
    stack = many_artifacts
    seen: set[str] = set()
    cursor, pages = None, 0
    while True:
        page = fa.list_page("many", cursor=cursor, page_size=PAGE, stack=stack)
        seen.update(a.id for a in page.items)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == TOTAL and pages == 100

    middle = NAMES // 2
    versions = stack.catalog.versions("many", f"n{middle:04d}", page_size=RUNS).items
    assert [m.version for m in versions] == list(range(RUNS, 0, -1))
    latest = fa.get_artifact(f"store://many/n{middle:04d}", stack=stack)
    assert latest.id == versions[0].id and latest.load()["n"] == middle
    seventh = fa.get_artifact(f"store://many/n{middle:04d}@7", stack=stack)
    assert seventh.id == versions[RUNS - 7].id and seventh.load()["n"] == middle

    stack_file = tmp_path / "many.yaml"
    stack_file.write_text(
        f"stacks:\n  many:\n    artifact_store: {{url: '{stack.store.url}'}}\n"
        f"    catalog: {{url: '{catalog_url}'}}\n"
    )
    result = CliRunner().invoke(
        cli, ["--stack", str(stack_file), "ls", "many", "--limit", "100", "--json"]
    )
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert len(listed["items"]) == 100 and listed["next_cursor"]

    deep = fa.list_page("many", page_size=100, stack=stack)
    for _ in range(DEEP_PAGES):
        deep = fa.list_page("many", cursor=deep.next_cursor, page_size=100, stack=stack)
    latency = {
        "ls first page": median_ms(lambda: fa.list_page("many", page_size=100, stack=stack)),
        f"ls page {DEEP_PAGES}": median_ms(
            lambda: fa.list_page("many", cursor=deep.next_cursor, page_size=100, stack=stack)
        ),
        "versions": median_ms(
            lambda: stack.catalog.versions("many", f"n{middle:04d}", page_size=100)
        ),
        "latest": median_ms(lambda: fa.get_artifact(f"store://many/n{middle:04d}", stack=stack)),
    }
    with capsys.disabled():
        figures = ", ".join(f"{what} {ms:.1f} ms" for what, ms in latency.items())
        print(f"\n{TOTAL:,} artifacts on {stack.catalog}: {figures}")
