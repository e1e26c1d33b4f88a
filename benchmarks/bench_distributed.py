"""Steps on a Dask LocalCluster, and many processes committing into PostgreSQL at once.

1. Speed-up: `--steps` independent steps, each burning `--seconds` of CPU and returning a
   `--mb` MB DataFrame (stored as Parquet), on 1 and then 2 process workers (target: 1.8x on
   2 cores). Each worker first runs one small step, so imports and the stack's opening (once
   per worker process) are not counted.
2. Overhead: `--tasks` tiny steps against submitting the same plain function to the engine
   (target: under 5 ms per task on top of the engine's own cost), beside the same step run
   eagerly in the driver: the difference of the three is what running it as a task adds.

The machine may be shared: each figure is printed with the CPU the benchmark's processes and
other processes used meanwhile (in cores, out of the machine's). Two workers that are never
kept waiting by our code use 2 cores; fewer, while others use the rest, is the machine's share.
3. Commits: `--procs` processes each materializing `--commits` small artifacts into one
   PostgreSQL catalog, over 4 shared names: rows per second, and anomalies (version gaps,
   duplicate versions, lost rows), which must be zero.

    python benchmarks/bench_distributed.py [--steps 64 --seconds 0.5 --mb 10]
        [--tasks 200] [--procs 16 --commits 1000] [--only speed_up,overhead,commits]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


class OthersLoad:
    """CPU that processes outside this one and its children used while the block ran, in
    cores: the machine's busy time (/proc/stat) less our own process tree's, and less the tree
    of the server listening on `port` (the PostgreSQL the commits go to), when given."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port

    def __enter__(self) -> OthersLoad:
        self.start = (time.perf_counter(), _machine_busy(), _own_cpu(self.port))
        return self

    def __exit__(self, *exc: object) -> None:
        wall, busy, own = time.perf_counter(), _machine_busy(), _own_cpu(self.port)
        self.wall = wall - self.start[0]
        self.ours = (own - self.start[2]) / self.wall
        self.cores = max(0.0, (busy - self.start[1]) - (own - self.start[2])) / self.wall

    def __str__(self) -> str:
        return f"we used {self.ours:.2f} and others {self.cores:.2f} of {os.cpu_count()} cores"


def _machine_busy() -> float:
    with open("/proc/stat") as stat:
        user, nice, system, idle, iowait, irq, softirq, steal = map(
            int, stat.readline().split()[1:9]
        )
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _own_cpu(port: int | None) -> float:
    """CPU seconds of this process and its descendants (those ended count once waited for),
    and of the server on `port` and its descendants."""
    import psutil  # a dependency of distributed

    roots = [psutil.Process()]
    if port is not None:
        listening = psutil.net_connections("tcp")
        pids = {c.pid for c in listening if c.laddr.port == port and c.status == "LISTEN"}
        roots += [psutil.Process(pid) for pid in pids if pid]
    total = 0.0
    procs = [p for root in roots for p in [root, *root.children(recursive=True)]]
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def speed_up(args: argparse.Namespace, root: Path) -> None:
    from distributed import Client, LocalCluster

    work = fa.step(name="work")(burn_and_frame)
    loads = {}
    for workers in (1, 2):
        stack = fa.Stack.local(root / f"speed-{workers}", project="bench")
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            with fa.run(stack=stack, executor=fa.DaskExecutor(client)):
                for i in range(workers):  # each idle worker takes one: all are warm
                    work(i, 0.2, 0.01)
            with OthersLoad() as loads[workers]:
                with fa.run(stack=stack, executor=fa.DaskExecutor(client)) as run:
                    for i in range(args.steps):
                        work(i, args.seconds, args.mb)
            assert run.status == "completed" and len(run.steps) == args.steps
    one, two, n = loads[1], loads[2], args.steps
    print(
        f"speed-up: {args.steps} steps of {args.seconds}s CPU + {args.mb} MB: "
        f"1 worker {one.wall:.1f}s ({one}), 2 workers {two.wall:.1f}s ({two}), "
        f"{one.wall / two.wall:.2f}x (target 1.8x); CPU per step {one.ours * one.wall / n:.2f}s "
        f"and {two.ours * two.wall / n:.2f}s: two workers waste nothing when these are equal"
    )


def overhead(args: argparse.Namespace, root: Path) -> None:
    from distributed import Client, LocalCluster

    step = fa.step(name="tiny")(tiny)
    stack = fa.Stack.local(root / "overhead", project="bench")
    with fa.run(stack=stack):
        step(-1)
    with OthersLoad() as eager_load, fa.run(stack=stack):
        for i in range(args.tasks):
            step(i)
    eager = eager_load.wall / args.tasks
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.submit(tiny, -1).result()
        with OthersLoad() as plain_load:
            client.gather([client.submit(tiny, i, pure=False) for i in range(args.tasks)])
        plain = plain_load.wall / args.tasks
        with fa.run(stack=stack, executor=fa.DaskExecutor(client)):  # warm the worker's stack
            step(-1)
        with OthersLoad() as step_load:
            with fa.run(stack=stack, executor=fa.DaskExecutor(client)):
                for i in range(args.tasks):
                    step(i)
        stepped = step_load.wall / args.tasks
    print(
        f"overhead: plain task {plain * 1e3:.2f} ms ({plain_load}), step task "
        f"{stepped * 1e3:.2f} ms ({step_load}): {(stepped - plain) * 1e3:.2f} ms per task on "
        f"top (target < 5 ms), of which the step itself, run eagerly in one process, takes "
        f"{eager * 1e3:.2f} ms ({eager_load}): running it as a task adds "
        f"{(stepped - plain - eager) * 1e3:.2f} ms"
    )
    cpu = {k: v.ours * v.wall / args.tasks * 1e3 for k, v in
           (("plain", plain_load), ("step", step_load), ("eager", eager_load))}  # fmt: skip
    print(
        f"overhead in CPU (all our processes, steadier than wall time on a busy machine): plain "
        f"task {cpu['plain']:.2f} ms, step task {cpu['step']:.2f} ms, eager step "
        f"{cpu['eager']:.2f} ms: running it as a task adds "
        f"{cpu['step'] - cpu['plain'] - cpu['eager']:.2f} ms"
    )


def committer(url: str, store: str, index: int, commits: int, ready: Any, go: Any) -> None:
    stack = fa.Stack(store=fa.ArtifactStore(store), catalog=fa.Catalog(url), project="bench")
    stack.catalog.projects()  # connected, imports done: only commits are timed
    ready.release()
    go.wait()
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
        ready, go = context.Semaphore(0), context.Event()
        procs = [
            context.Process(
                target=committer, args=(url, str(root / "pg"), p, args.commits, ready, go)
            )
            for p in range(args.procs)
        ]
        for proc in procs:
            proc.start()
        for _ in procs:
            ready.acquire()
        with OthersLoad(server.port) as load:
            go.set()
            for proc in procs:
                proc.join()
        wall = load.wall
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
        f"{len(rows)} rows in {wall:.1f}s, {len(rows) / wall:.0f} rows/s, {anomalies} anomalies "
        f"({load}; {load.ours * wall / max(len(rows), 1) * 1e3:.1f} ms CPU per row, server's "
        "included)"
    )


SCENARIOS = {"speed_up": speed_up, "overhead": overhead, "commits": commits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--mb", type=float, default=10.0)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--procs", type=int, default=16)
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios, comma-separated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for scenario in args.only.split(","):
            SCENARIOS[scenario](args, root)


if __name__ == "__main__":
    main()
