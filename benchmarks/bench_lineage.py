"""Lineage walks at depth and width: a 10,000-hop chain and a 100,000-node graph.

The graphs are bulk-inserted catalog rows (tests/lineage_graphs.py). For each, the times of the
reachability query alone (the walk itself; target under 1 s on SQLite), the whole `fa.lineage`
call (records of every node fetched), and printing it as a CLI tree, Mermaid and OpenLineage.

    python benchmarks/bench_lineage.py [--hops 10000] [--artifacts 50000] [--catalog URL]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flow_artifacts.catalog import Catalog  # noqa: E402
from flow_artifacts.catalog.lineage import _reachable  # noqa: E402
from flow_artifacts.cli.browse import _print_tree  # noqa: E402
from tests import lineage_graphs  # noqa: E402


def timed(func):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start


def bench(catalog: Catalog, title: str, ids: list[str]) -> None:
    print(f"\n{title}")
    for direction, root in (("upstream", ids[-1]), ("downstream", ids[0])):
        with catalog.engine.connect() as conn:  # the walk alone, without the records
            reached, walk_s = timed(lambda: _reachable(conn, root, direction))  # noqa: B023
        graph, full_s = timed(lambda: catalog.lineage(root, direction))  # noqa: B023
        nodes = len(graph.artifacts) + len(graph.step_runs)
        print(
            f"  {direction:10}  {nodes:7} nodes {len(graph.edges):7} edges   "
            f"walk {walk_s:6.3f} s   with records {full_s:6.3f} s"
        )
    out = io.StringIO()
    with redirect_stdout(out):
        _, tree_s = timed(lambda: _print_tree(graph, down=True))
    _, mermaid_s = timed(graph.to_mermaid)
    _, openlineage_s = timed(graph.to_openlineage)
    print(
        f"  print: tree {tree_s:.3f} s ({out.tell() >> 10} KiB), mermaid {mermaid_s:.3f} s, "
        f"openlineage {openlineage_s:.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hops", type=int, default=10_000)
    parser.add_argument("--artifacts", type=int, default=50_000, help="each with its step run")
    parser.add_argument("--catalog", help="an empty catalog URL (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog(args.catalog or f"sqlite:///{tmp}/catalog.db")
        chain, build_s = timed(lambda: lineage_graphs.chain(catalog, args.hops))
        print(f"built a {args.hops}-hop chain in {build_s:.1f} s")
        bench(catalog, f"chain of {args.hops} hops", chain)
        web, build_s = timed(lambda: lineage_graphs.web(catalog, args.artifacts))
        print(f"\nbuilt {args.artifacts} artifacts and step runs in {build_s:.1f} s")
        bench(catalog, f"graph of {2 * args.artifacts} nodes", web)
        catalog.close()


if __name__ == "__main__":
    main()
