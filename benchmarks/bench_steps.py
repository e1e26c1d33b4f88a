"""What `@step` costs over calling the plain function, on the embedded default stack.

The step returns a ~1 KB JSON report. Measured per call:

1. the plain function (the floor);
2. `fa.materialize` of its result alone (what storing one artifact costs);
3. the step inside a run (step run recorded, output stored and committed);
4. the step outside any run (an implicit run is opened and closed around it);
5. a cache hit inside a run (key computed, outputs found and loaded, a cached step run recorded).

    python benchmarks/bench_steps.py [--calls 300] [--root DIR] [--profile]

`--root` puts the stack somewhere else (e.g. /dev/shm to take the disk out); `--profile` prints
where the time of in-run step calls goes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import flow_artifacts as fa

TARGET_MS = 2.0
Timings = tuple[list[float], list[float]]


def report(i: int) -> dict:
    return {"accuracy": 0.93, "run": i, "notes": "x" * 980}


step_report = fa.step(name="report")(report)
cached_report = fa.step(name="cached_report", cache=True)(report)


def timed(calls: int, call: Callable[[int], object], warmup: int = 20) -> Timings:
    """Wall and CPU milliseconds of each of `calls` calls of `call(i)`, after `warmup` others.

    CPU time (all threads of this process) stays meaningful on a busy machine, where wall time
    also counts waiting for a core.
    """
    for i in range(warmup):
        call(-1 - i)
    wall, cpu = [], []
    for i in range(calls):
        start, start_cpu = time.perf_counter(), time.process_time()
        call(i)
        cpu.append((time.process_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--root", default=None, help="folder for the stack (default: a temp dir)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.root) as root:
        stack = fa.Stack.local(Path(root) / ".flow_artifacts")
        rows = []
        with fa.use_stack(stack):
            rows.append(("plain function", timed(args.calls, report)))
            rows.append(
                (
                    "fa.materialize alone",
                    timed(
                        args.calls, lambda i: fa.materialize(report(i), "m", f"r{i}", "s", "bench")
                    ),
                )
            )
            with fa.run(project="bench"):
                rows.append(("@step in a run", timed(args.calls, step_report)))
            rows.append(("@step, implicit run", timed(args.calls, step_report)))
            with fa.run(project="bench"):
                cached_report(0)  # the one miss
                rows.append(("@step cache hit", timed(args.calls, lambda i: cached_report(0))))
            if args.profile:
                profile(stack, args.calls)
        stack.close()

    floor = statistics.median(rows[0][1][0])
    print(f"\n{args.calls} calls each, stack {stack!r}\n")
    print(f"{'case':24} {'median ms':>10} {'p90 ms':>8} {'cpu ms':>8} {'overhead ms':>12}")
    for name, (wall, cpu) in rows:
        median = statistics.median(wall)
        p90 = statistics.quantiles(wall, n=10)[-1]
        overhead = median - floor
        flag = "" if name == "plain function" or overhead < TARGET_MS else "  over target"
        print(
            f"{name:24} {median:10.3f} {p90:8.3f} {statistics.median(cpu):8.3f} "
            f"{overhead:12.3f}{flag}"
        )
    print(f"\ntarget: under {TARGET_MS} ms of overhead per step (median wall time)")


def profile(stack: fa.Stack, calls: int) -> None:
    profiler = cProfile.Profile()
    with fa.run(project="bench-profile"):
        profiler.enable()
        for i in range(calls):
            step_report(i)
        profiler.disable()
    print(f"\nwhere {calls} in-run step calls spend their time (cumulative):")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    print("by own time:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
