"""Load time of the artifact browser on a large catalog.

1. API: median latency of the list endpoint (first page, a deep page, each sort, each filter),
   an artifact's page data and its lineage, from `flow-artifacts ui` running in its own
   process on 127.0.0.1.
2. Rendered: median time from navigation to the view drawn in headless Chromium (Debian's,
   driven by Playwright) for the list, compare, artifact and lineage pages, and to re-sort and
   to page the list.

Rows are bulk-inserted as in bench_catalog.py (1,000 names, a `team` label on each).

    python benchmarks/bench_ui.py [--rows 100000] [--repeat 20] [--catalog URL]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench_catalog import fill_catalog
from sqlalchemy import String, cast, literal, select, update

from flow_artifacts.catalog import Catalog, schema


def give_producers(catalog: Catalog, steps: int = 100) -> None:
    """Give the bulk rows producers, as the catalog does for every artifact it records: `steps`
    step runs of the bulk run, ~rows/steps outputs each (the lineage chain keeps its own)."""
    a, s = schema.artifacts, schema.step_runs
    with catalog.engine.begin() as conn:
        run_pk, started = conn.execute(select(s.c.run_pk, s.c.started)).first()
        conn.execute(
            s.insert(),
            [
                {
                    "id": f"bench-step-{k}",
                    "run_pk": run_pk,
                    "step": f"producer{k:03d}",
                    "status": "completed",
                    "started": started,
                    "cached": k % 10 == 0,
                }
                for k in range(steps)
            ],
        )
        producer = literal("bench-step-") + cast(a.c.version % steps, String)
        conn.execute(update(a).where(a.c.step_run_id.is_(None)).values(step_run_id=producer))
        step = select(s.c.step).where(s.c.id == a.c.step_run_id).scalar_subquery()
        conn.execute(update(a).values(step=step))  # as `recording` repeats it in each row


def median_ms(func: Callable[[], Any], repeat: int) -> float:
    func()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


def deep_cursor(base: str, pages: int) -> str:
    """The cursor of page `pages + 1` of the default listing, followed page by page."""
    cursor = ""
    for _ in range(pages):
        cursor = get_json(f"{base}/api/artifacts?project=bench&limit=50&cursor={cursor}")[
            "next_cursor"
        ]
    return cursor


def bench_api(base: str, tail: str, repeat: int, rows: int) -> None:
    pages = max(1, min(200, rows // 50 - 1))
    deep = deep_cursor(base, pages)
    cases = [
        ("list page (50, newest first)", "/api/artifacts?project=bench"),
        (f"list page {pages + 1} (keyset cursor)", f"/api/artifacts?project=bench&cursor={deep}"),
        ("list, label team=t3", "/api/artifacts?project=bench&label=team%3Dt3"),
        ("list, name contains 'name7'", "/api/artifacts?project=bench&name=name7"),
        ("list, text 'name7' anywhere", "/api/artifacts?q=name7"),
        ("list, has label team, since 2d", "/api/artifacts?has=team&since=2d"),
        ("list, latest of each name", "/api/artifacts?view=latest"),
        ("list, latest of each name, by name", "/api/artifacts?view=latest&sort=name&order=asc"),
        ("compare two versions", "/api/compare?a=bench/name7@1&b=bench/name7@2"),
        ("list, kind=report, since", "/api/artifacts?kind=report&since=2000-01-01"),
        *[
            (f"list sorted by {s} asc", f"/api/artifacts?project=bench&sort={s}&order=asc")
            for s in ("name", "version", "kind", "size", "created", "step")
        ],
        ("artifact page data", f"/api/artifacts/{tail}"),
        ("artifact preview", f"/api/preview/{tail}"),
        ("lineage graph (5 deep)", f"/api/lineage/{tail}?depth=all"),
        ("stack info (projects)", "/api/info"),
    ]
    print(f"{'API on 127.0.0.1':<44}{'median ms':>12}")
    for label, path in cases:
        print(f"{'  ' + label:<44}{median_ms(lambda p=path: get_json(base + p), repeat):>12.2f}")


REDRAW = """async (label) => {
  const before = document.body.dataset.ready;
  const start = performance.now();
  [...document.querySelectorAll("button")].find((b) => b.textContent.startsWith(label)).click();
  while (document.body.dataset.ready === before) {
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
  await new Promise((resolve) => requestAnimationFrame(resolve));
  return performance.now() - start;
}"""
"""Click a button, then wait for the view's next render and the frame that paints it."""


def bench_page(base: str, tail: str, repeat: int) -> None:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.servers import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def load(path: str = "/?project=bench", view: str = "list") -> tuple[float, float]:
            start = time.perf_counter()
            page.goto(f"{base}{path}")
            page.wait_for_selector(f"body[data-view={view}]")
            wall = (time.perf_counter() - start) * 1000
            return page.evaluate("performance.getEntriesByName('fa-ready')[0].startTime"), wall

        def median(samples: list[float]) -> str:
            return f"{statistics.median(samples):>12.2f}"

        load()
        loads = [load() for _ in range(repeat)]
        print(f"{'rendered in Chromium':<44}{'median ms':>12}")
        print(f"{'  list page: navigation start to table':<44}{median([a for a, _ in loads])}")
        print(f"{'  list page, as the test driver waits':<44}{median([b for _, b in loads])}")
        for label, button in (("next page, newest first", "Next"), ("re-sort by size", "Size")):
            samples = [page.evaluate(REDRAW, button) for _ in range(repeat)]
            print(f"{'  ' + label + ' (click to painted)':<44}{median(samples)}")
        rows = page.locator("#artifacts tbody tr").count()
        print(f"  ({rows} rows per page)")
        for label, path, view in (
            ("compare page, two versions", "/compare?a=bench/name7@1&b=bench/name7@2", "compare"),
            ("artifact page", f"/artifacts/{tail}", "artifact"),
            ("lineage page, whole graph", f"/lineage/{tail}?depth=all", "lineage"),
        ):
            load(path, view)
            drawn = [load(path, view)[0] for _ in range(repeat)]
            print(f"{'  ' + label + ', to drawn':<44}{median(drawn)}")
        browser.close()


@contextlib.contextmanager
def served(root: Path, catalog_url: str) -> Iterator[str]:
    """`flow-artifacts ui` on the catalog, in its own process as people run it; yields its URL."""
    (root / "stack.yaml").write_text(
        f"artifact_store:\n  url: {root / 'store'}\ncatalog:\n  url: {catalog_url}\n"
    )
    code = "from flow_artifacts.cli.ui import ui; ui(prog_name='flow-artifacts ui')"
    process = subprocess.Popen(
        [sys.executable, "-u", "-c", code, "--stack", str(root / "stack.yaml"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = next(line.split()[1] for line in process.stdout if line.startswith("open "))
        yield url.rstrip("/")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--catalog", help="catalog URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = args.catalog or f"sqlite:///{root / 'big.db'}"
        catalog = Catalog(url)
        start = time.perf_counter()
        tail = fill_catalog(catalog, args.rows)
        give_producers(catalog)
        catalog.close()
        print(f"filled {args.rows:,} artifacts in {time.perf_counter() - start:.0f} s\n")
        with served(root, url) as base:
            bench_api(base, tail, args.repeat, args.rows)
            print()
            bench_page(base, tail, args.repeat)


if __name__ == "__main__":
    main()
