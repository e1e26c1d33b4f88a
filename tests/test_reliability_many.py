"""100,000 small artifacts in one project: paging, versions and latest lookup stay correct and fast.

The artifacts are written through `fa.materialize` by one process per CPU, so they are real
(bytes, manifest, catalog row). Latencies are printed, not asserted: timing belongs to benchmarks.
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

NAMES = 1000
RUNS = 100
TOTAL = NAMES * RUNS


def median_ms(call: Callable[[], object], repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


@pytest.fixture
def hundred_thousand(stack, catalog_url):
    workers = max(2, min(4, os.cpu_count() or 1))
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        written = pool.starmap(
            catalog_workers.materialize_grid,
            [(stack.store.url, catalog_url, list(range(w, RUNS, workers)), NAMES)
             for w in range(workers)],
        )  # fmt: skip
    assert sum(written) == TOTAL
    return stack


def test_hundred_thousand_artifacts_page_and_resolve(
    hundred_thousand, catalog_url, tmp_path, capsys
):
    stack = hundred_thousand
    seen: set[str] = set()
    cursor, pages = None, 0
    while True:
        page = fa.list_page("many", cursor=cursor, page_size=1000, stack=stack)
        seen.update(a.id for a in page.items)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == TOTAL and pages == TOTAL // 1000

    versions = stack.catalog.versions("many", "n0500", page_size=RUNS).items
    assert [m.version for m in versions] == list(range(RUNS, 0, -1))
    latest = fa.get_artifact("store://many/n0500", stack=stack)
    assert latest.id == versions[0].id and latest.load()["n"] == 500
    seventh = fa.get_artifact("store://many/n0500@7", stack=stack)
    assert seventh.id == versions[RUNS - 7].id and seventh.load()["n"] == 500

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
    for _ in range(500):
        deep = fa.list_page("many", cursor=deep.next_cursor, page_size=100, stack=stack)
    latency = {
        "ls first page": median_ms(lambda: fa.list_page("many", page_size=100, stack=stack)),
        "ls page 500": median_ms(
            lambda: fa.list_page("many", cursor=deep.next_cursor, page_size=100, stack=stack)
        ),
        "versions": median_ms(lambda: stack.catalog.versions("many", "n0500", page_size=100)),
        "latest": median_ms(lambda: fa.get_artifact("store://many/n0500", stack=stack)),
    }
    with capsys.disabled():
        figures = ", ".join(f"{what} {ms:.1f} ms" for what, ms in latency.items())
        print(f"\n{TOTAL:,} artifacts on {stack.catalog}: {figures}")
