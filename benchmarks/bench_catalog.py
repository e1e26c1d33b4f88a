"""Catalog throughput and query latency.

1. Artifacts per second for N small JSON reports materialized with catalog recording, beside raw
   `json.dump` to files (the floor: no catalog, no checksums, no atomic publish).
2. Latest-version, list-page and 5-deep lineage latency on a catalog of M artifacts (rows are bulk
   inserted, then the queries go through the public API).

    python benchmarks/bench_catalog.py [--reports 2000] [--rows 1000000] [--catalog URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog, schema
from flow_artifacts.catalog.records import encode_cursor


def bench_throughput(root: Path, reports: int) -> tuple[float, float]:
    raw_dir = root / "raw"
    raw_dir.mkdir()
    report = {"accuracy": 0.93, "rows": 1000, "notes": "x" * 200}
    start = time.perf_counter()
    for i in range(reports):
        with open(raw_dir / f"r{i}.json", "w") as f:
            json.dump(report, f)
    raw_rate = reports / (time.perf_counter() - start)

    stack = fa.Stack.local(root / "fa")
    start = time.perf_counter()
    for i in range(reports):
        fa.materialize(report, "report", f"run{i}", "evaluate", "bench", stack=stack)
    ours = reports / (time.perf_counter() - start)
    stack.catalog.close()
    return ours, raw_rate


RARE = 10_000
"""One artifact in this many carries the rare label `audit=due`."""


def fill_catalog(catalog: Catalog, rows: int, chain_depth: int = 5) -> str:
    """Bulk-insert `rows` artifacts over 1,000 names, plus a lineage chain; return its tail id."""
    now = datetime.now(timezone.utc)
    batch = 20_000
    with catalog.engine.begin() as conn:
        conn.execute(schema.projects.insert().values(name="bench", created=now))
        conn.execute(
            schema.runs.insert().values(
                project="bench", run_id="bulk", status="external", started=now
            )
        )
        run_pk = conn.execute(schema.runs.select()).first().pk
        steps = [
            {
                "id": str(uuid.uuid4()),
                "run_pk": run_pk,
                "step": f"s{i}",
                "status": "external",
                "started": now,
                "cached": False,
            }
            for i in range(chain_depth + 1)
        ]
        conn.execute(schema.step_runs.insert(), steps)
    names = 1000
    for offset in range(0, rows, batch):
        chunk = []
        for i in range(offset, min(rows, offset + batch)):
            name, version = f"name{i % names}", i // names + 1
            manifest = {
                "id": str(uuid.uuid4()),
                "key": f"bench/r{i}/s/{name}",
                "data_path": f"bench/r{i}/s/{name}.json",
                "project": "bench",
                "name": name,
                "run_id": f"r{i}",
                "step": "s",
                "materializer": "builtins.json",
                "materializer_version": "1",
                "kind": "report",
                "mime_type": "application/json",
                "size": 10,
                "checksum": "sha256:0",
                "created": (now + timedelta(microseconds=i)).isoformat(),
            }
            chunk.append(
                {
                    **{
                        k: manifest[k]
                        for k in (
                            "id",
                            "project",
                            "name",
                            "kind",
                            "materializer",
                            "key",
                            "data_path",
                            "checksum",
                            "size",
                            "mime_type",
                        )
                    },
                    "version": version,
                    "store_url": "bench",
                    "description": "",
                    "user_metadata": {},
                    "manifest": manifest,
                    "created": now + timedelta(microseconds=i),
                    "step_run_id": None,
                    "status": "committed",
                    "labels": {"team": f"t{i % 10}"},
                }
            )
            if i % RARE == 0:
                chunk[-1]["labels"]["audit"] = "due"
        with catalog.engine.begin() as conn:
            conn.execute(schema.artifacts.insert(), chunk)
            conn.execute(
                schema.labels.insert(),
                [
                    {
                        "artifact_id": c["id"],
                        "key": key,
                        "value": value,
                        "project": "bench",
                        "created": c["created"],
                    }
                    for c in chunk
                    for key, value in c["labels"].items()
                ],
            )
    with catalog.engine.begin() as conn:
        conn.execute(
            schema.artifact_names.insert(),
            [
                {"project": "bench", "name": f"name{n}", "latest_version": rows // names}
                for n in range(names)
            ],
        )
        ids = [c["id"] for c in chunk[-(chain_depth + 1) :]]
        for depth, (step, produced) in enumerate(zip(steps, ids, strict=False)):
            conn.execute(
                schema.artifacts.update()
                .where(schema.artifacts.c.id == produced)
                .values(step_run_id=step["id"])
            )
            if depth:
                conn.execute(
                    schema.step_inputs.insert().values(
                        step_run_id=step["id"], artifact_id=ids[depth - 1]
                    )
                )
    return ids[-1]


def middle_cursor(catalog: Catalog, rows: int) -> str:
    """The cursor a reader paging through the listing holds halfway down."""
    a = schema.artifacts
    query = (
        select(a.c.created, a.c.id)
        .where(a.c.project == "bench")
        .order_by(a.c.created.desc(), a.c.id.desc())
        .offset(rows // 2)
        .limit(1)
    )
    with catalog.engine.connect() as conn:
        return encode_cursor(conn.execute(query).one())


def latency_ms(func, repeat: int = 50) -> float:
    func()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--catalog", help="catalog URL for the latency part (default: SQLite)")
    parser.add_argument("--dir", help="where to write (default: the system temp dir); try /dev/shm")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        ours, raw = bench_throughput(root, args.reports)
        print(f"{'throughput, ' + str(args.reports) + ' JSON reports':<44}{'per second':>12}")
        print(f"{'  fa.materialize + SQLite catalog':<44}{ours:>12,.0f}")
        print(f"{'  raw json.dump to files':<44}{raw:>12,.0f}")
        print(f"{'  ratio (ours / raw)':<44}{ours / raw:>12.3f}")

        catalog = Catalog(args.catalog or f"sqlite:///{root / 'big.db'}")
        start = time.perf_counter()
        tail = fill_catalog(catalog, args.rows)
        print(f"\nfilled {args.rows:,} artifacts in {time.perf_counter() - start:.0f} s")
        stack = fa.Stack(store=fa.ArtifactStore(root / "store"), catalog=catalog)
        middle = middle_cursor(catalog, args.rows)
        rows = [
            (
                "latest version of a name",
                lambda: fa.get_artifact("store://bench/name7", stack=stack),
            ),
            (
                "a given version",
                lambda: fa.get_artifact(
                    f"store://bench/name7@{max(1, args.rows // 2000)}", stack=stack
                ),
            ),
            ("list page (100, project)", lambda: fa.list_page("bench", stack=stack)),
            (
                f"list page (100, {args.rows // 2:,} rows deep)",
                lambda: fa.list_page("bench", cursor=middle, stack=stack),
            ),
            (
                "list page (100, label filter)",
                lambda: fa.list_page("bench", labels={"team": "t3"}, stack=stack),
            ),
            (
                f"list page (100, rare label: 1 in {RARE:,})",
                lambda: fa.list_page("bench", labels={"audit": "due"}, stack=stack),
            ),
            (
                "list versions of a name (20)",
                lambda: stack.catalog.versions("bench", "name7", page_size=20),
            ),
            ("5-deep upstream lineage", lambda: fa.lineage(tail, depth=None, stack=stack)),
        ]
        print(f"{'query on ' + format(args.rows, ',') + ' artifacts':<44}{'median ms':>12}")
        for label, func in rows:
            print(f"{'  ' + label:<44}{latency_ms(func):>12.2f}")
        graph = fa.lineage(tail, stack=stack)
        print(f"  (lineage walked {len(graph.artifacts)} artifacts, {len(graph.step_runs)} steps)")


if __name__ == "__main__":
    main()
