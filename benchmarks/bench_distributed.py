"""Steps on a Dask LocalCluster, and many processes committing into PostgreSQL at once.

1. Speed-up: `--steps` independent steps, each burning `--seconds` of CPU and returning a
   `--mb` MB DataFrame (stored as Parquet), on 1 and then 2 process workers (target: 1.8x on
   2 cores).
2. Overhead: `--tasks` tiny steps against submitting the same plain function to the engine
   (target: under 5 ms per task on top of the engine's own cost).
3. Commits: `--procs` processes each materializing `--commits` small artifacts into one
   PostgreSQL catalog, over 4 shared names: rows per second, and anomalies (version gaps,
   duplicate versions, lost rows), which must be zero.

    python benchmarks/bench_distributed.py [--steps 64 --seconds 0.5 --mb 10]
        [--tasks 200] [--procs 16 --commits 1000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flow_artifacts as fa  # noqa: E402

NAMES = 4


def burn_and_frame(i: int, seconds: float, mb: float):
    import numpy as np
    import pandas as pd

    end = time.process_time() + seconds
    x = 0
    while time.process_time() < end:
        x += 1
    rows = int(mb * 1024 * 1024 / 8 / 4)
    rng = np.random.default_rng(i)
    return pd.DataFrame(rng.random((rows, 4)), columns=list("abcd"))


def tiny(i: int) -> dict:
    return {"i": i}


def speed_up(args: argparse.Namespace, root: Path) -> None:
    from distributed import Client, LocalCluster

    work = fa.step(name="work")(burn_and_frame)
    walls = {}
    for workers in (1, 2):
        stack = fa.Stack.local(root / f"speed-{workers}", project="bench")
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            start = time.perf_counter()
            with fa.run(stack=stack, executor=fa.DaskExecutor(client)) as run:
                for i in range(args.steps):
                    work(i, args.seconds, args.mb)
            walls[workers] = time.perf_counter() - start
            assert run.status == "completed" and len(run.steps) == args.steps
    print(
        f"speed-up: {args.steps} steps of {args.seconds}s CPU + {args.mb} MB: "
        f"1 worker {walls[1]:.1f}s, 2 workers {walls[2]:.1f}s, {walls[1] / walls[2]:.2f}x "
        "(target 1.8x)"
    )


def overhead(args: argparse.Namespace, root: Path) -> None:
    from distributed import Client, LocalCluster

    step = fa.step(name="tiny")(tiny)
    stack = fa.Stack.local(root / "overhead", project="bench")
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.submit(tiny, -1).result()
        start = time.perf_counter()
        futures = [client.submit(tiny, i, pure=False) for i in range(args.tasks)]
        client.gather(futures)
        plain = (time.perf_counter() - start) / args.tasks
        with fa.run(stack=stack, executor=fa.DaskExecutor(client)):  # warm the worker's stack
            step(-1)
        start = time.perf_counter()
        with fa.run(stack=stack, executor=fa.DaskExecutor(client)):
            for i in range(args.tasks):
                step(i)
        stepped = (time.perf_counter() - start) / args.tasks
    print(
        f"overhead: plain task {plain * 1e3:.2f} ms, step task {stepped * 1e3:.2f} ms, "
        f"{(stepped - plain) * 1e3:.2f} ms per task on top (target < 5 ms)"
    )


def committer(url: str, store: str, index: int, commits: int) -> None:
    stack = fa.Stack(store=fa.ArtifactStore(store), catalog=fa.Catalog(url), project="bench")
    for i in range(commits):
        fa.materialize(
            {"p": index, "i": i}, f"shared-{i % NAMES}", f"r{index}", f"c{i}", "bench", stack=stack
        )


def commits(args: argparse.Namespace, root: Path) -> None:
    from sqlalchemy import text

    from tests import servers

    with servers.postgres_server() as server:
        url = server.create_database()
        fa.Catalog(url).close()  # schema created once, before the race
        context = multiprocessing.get_context("spawn")
        procs = [
            context.Process(target=committer, args=(url, str(root / "pg"), p, args.commits))
            for p in range(args.procs)
        ]
        start = time.perf_counter()
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        wall = time.perf_counter() - start
        assert all(proc.exitcode == 0 for proc in procs), [p.exitcode for p in procs]
        catalog = fa.Catalog(url)
        with catalog.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT name, version FROM fa_artifacts WHERE project = 'bench'")
            ).all()
        catalog.close()
    expected = args.procs * args.commits
    by_name: dict[str, list[int]] = {}
    for name, version in rows:
        by_name.setdefault(name, []).append(version)
    anomalies = expected - len(rows)  # lost rows
    for versions in by_name.values():
        anomalies += len(versions) - len(set(versions))  # duplicates
        anomalies += max(versions) - len(set(versions))  # gaps
    print(
        f"commits: {args.procs} processes x {args.commits} artifacts into PostgreSQL: "
        f"{len(rows)} rows in {wall:.1f}s, {len(rows) / wall:.0f} rows/s, {anomalies} anomalies"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--mb", type=float, default=10.0)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--procs", type=int, default=16)
    parser.add_argument("--commits", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        speed_up(args, root)
        overhead(args, root)
        commits(args, root)


if __name__ == "__main__":
    main()
