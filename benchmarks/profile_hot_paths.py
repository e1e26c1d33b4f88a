"""Where the time of issue 18's hot paths goes: cProfile of each, with counts of what they do.

    python benchmarks/profile_hot_paths.py                    # all cases, 51 MB pickle, 1M rows
    python benchmarks/profile_hot_paths.py --only small --calls 300 --top 25
    python benchmarks/profile_hot_paths.py --rows 5000000     # the issue's table size

Cases: `small` (materialize and load of a 1 KB report, per call), `step` (an in-run `@step` call and
a cache hit), `pickle` (save and load of a ~51 MB cloudpickled model), `frame` (Parquet save and
load), `cli` (`flow-artifacts ls` in an empty folder). For the small cases it also counts the SQL
statements, commits and threads started per call: the things a profile
attributes to many small functions. For `-X importtime`, run
`python -X importtime -c "from flow_artifacts import materialize, load, step, pipeline"`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
REPORT = {"accuracy": 0.93, "rows": 1000, "notes": "x" * 820}


def show(title: str, profiler: cProfile.Profile, calls: int, top: int) -> None:
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        total = stats.total_tt
        stats.strip_dirs().sort_stats(key).print_stats(top)
        print(f"\n=== {title}: {total / calls * 1000:.3f} ms per call under cProfile, by {key}")
        body = out.getvalue()
        print(body[body.index("ncalls") - 3 :].rstrip())


def profile(action: Callable[[int], object], calls: int) -> cProfile.Profile:
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(calls):
        action(i)
    profiler.disable()
    return profiler


_counts: Counter[str] | None = None
"""Where SQLite's statement trace counts, while `counting` runs."""


def trace_sqlite_statements() -> None:
    """Trace every SQLite connection opened from now on: statements run on the driver
    connection (the catalog's fast paths) never pass SQLAlchemy's events."""
    from sqlalchemy import engine, event

    def on_statement(sql: str) -> None:
        if _counts is not None:
            word = sql.split(None, 1)[0].upper()
            _counts["commits" if word == "COMMIT" else "sql statements"] += 1
            if word != "COMMIT":
                _counts[f"  {word}"] += 1

    def on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.set_trace_callback(on_statement)

    event.listen(engine.Engine, "connect", on_connect)


def counting(stack, action: Callable[[int], object], calls: int, title: str) -> None:
    """SQL statements, commits and threads started, per call of `action`."""
    global _counts
    counts: Counter[str] = Counter()
    started = threading.Thread.start

    def start(self) -> None:
        counts["threads started"] += 1
        started(self)

    threading.Thread.start = start  # type: ignore[method-assign]
    _counts = counts
    try:
        for i in range(calls):
            action(10_000 + i)
    finally:
        _counts = None
        threading.Thread.start = started  # type: ignore[method-assign]
    print(f"\n=== {title}: per call, over {calls} calls")
    for key, value in counts.items():
        print(f"  {key:<24} {value / calls:6.2f}")


def small(args: argparse.Namespace, root: Path) -> None:
    import flow_artifacts as fa

    stack = fa.Stack.local(root / "small" / ".flow_artifacts")
    uris: list[str] = []

    def save(i: int) -> None:
        uris.append(fa.materialize(REPORT, f"r{i}", "run", "evaluate", "bench", stack=stack).uri)

    for i in range(20):
        save(-1 - i)
    show("fa.materialize of a 1 KB report", profile(save, args.calls), args.calls, args.top)
    counting(stack, save, 50, "fa.materialize of a 1 KB report")
    show(
        "fa.load of it (verified)",
        profile(lambda i: fa.load(uris[i], stack=stack), args.calls),
        args.calls,
        args.top,
    )
    counting(stack, lambda i: fa.load(uris[i % len(uris)], stack=stack), 50, "fa.load of it")
    measure_write_parts(stack, args.calls)
    stack.close()


def measure_write_parts(stack, calls: int) -> None:
    """Wall ms of the parts each write adds around the bytes: lease, temp folder, journal record."""
    import flow_artifacts as fa

    totals: Counter[str] = Counter()
    modules = [
        "flow_artifacts.stores.leases",
        "flow_artifacts.journal",
        "flow_artifacts.stores.identity",
    ]
    wrapped = wrap_module_functions(modules, totals)
    try:
        for i in range(calls):
            fa.materialize(REPORT, f"parts{i}", "run", "evaluate", "bench", stack=stack)
    finally:
        for restore in wrapped:
            restore()
    print(f"\n=== wall ms per materialize inside lease / journal / identity functions ({calls})")
    for key, value in totals.most_common(15):
        print(f"  {key:<60} {value / calls * 1000:8.3f}")


def wrap_module_functions(modules: list[str], totals: Counter) -> list[Callable[[], None]]:
    """Time every top-level function and public method of `modules` (outermost call only)."""
    import importlib
    import inspect

    restores: list[Callable[[], None]] = []
    depth = threading.local()

    def wrap(owner, attr: str, label: str) -> None:
        original = getattr(owner, attr)

        def timed(*a, **k):
            if getattr(depth, "n", 0):
                return original(*a, **k)
            depth.n = 1
            started = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                totals[label] += time.perf_counter() - started
                depth.n = 0

        setattr(owner, attr, timed)
        restores.append(lambda: setattr(owner, attr, original))

    for name in modules:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__ == name:
                wrap(module, attr, f"{name.split('.')[-1]}.{attr}")
            elif inspect.isclass(value) and value.__module__ == name:
                for method, fn in vars(value).items():
                    if inspect.isfunction(fn) and not method.startswith("__"):
                        wrap(value, method, f"{name.split('.')[-1]}.{attr}.{method}")
    return restores


def step(args: argparse.Namespace, root: Path) -> None:
    import flow_artifacts as fa

    stack = fa.Stack.local(root / "step" / ".flow_artifacts")

    def report(i: int) -> dict:
        return {**REPORT, "run": i}

    plain = fa.step(name="report")(report)
    cached = fa.step(name="cached_report", cache=True)(report)
    with fa.use_stack(stack), fa.run(project="bench"):
        for i in range(20):
            plain(-1 - i)
        show("@step call in a run", profile(plain, args.calls), args.calls, args.top)
        counting(stack, plain, 50, "@step call in a run")
        cached(0)
        show("@step cache hit", profile(lambda i: cached(0), args.calls), args.calls, args.top)
        counting(stack, lambda i: cached(0), 50, "@step cache hit")
    stack.close()


def pickle_case(args: argparse.Namespace, root: Path) -> None:
    from ratios import make_model

    import flow_artifacts as fa

    stack = fa.Stack.local(root / "pickle" / ".flow_artifacts")
    model = make_model(args.mb)
    holder: list[str] = []
    show(
        f"{args.mb} MB pickle save",
        profile(
            lambda i: holder.append(fa.materialize(model, "m", "r", "s", "b", stack=stack).uri), 1
        ),
        1,
        args.top,
    )
    show(
        f"{args.mb} MB pickle load",
        profile(lambda i: fa.load(holder[0], stack=stack), 1),
        1,
        args.top,
    )
    stack.close()


def frame(args: argparse.Namespace, root: Path) -> None:
    from bench_materialize import make_frame

    import flow_artifacts as fa

    stack = fa.Stack.local(root / "frame" / ".flow_artifacts")
    frames = [make_frame(args.rows)]
    holder: list[str] = []
    show(
        f"{args.rows:,} x 10 Parquet save",
        profile(
            lambda i: holder.append(fa.materialize(frames[0], "f", "r", "s", "b", stack=stack).uri),
            1,
        ),
        1,
        args.top,
    )
    frames.clear()  # the load below is measured without the frame still in memory
    show(
        f"{args.rows:,} x 10 Parquet load (verified)",
        profile(lambda i: fa.load(holder[0], stack=stack), 1),
        1,
        args.top,
    )
    stack.close()


def cli(args: argparse.Namespace, root: Path) -> None:
    from flow_artifacts.cli import main

    empty = root / "cli"
    empty.mkdir()
    os.chdir(empty)
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        main(["ls"])
    except SystemExit:
        pass
    profiler.disable()
    show(
        "flow-artifacts ls in an empty folder (in-process; imports included)", profiler, 1, args.top
    )


CASES = {"small": small, "step": step, "pickle": pickle_case, "frame": frame, "cli": cli}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(CASES))
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--mb", type=int, default=51)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    trace_sqlite_statements()
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        for name in args.only.split(","):
            CASES[name](args, Path(tmp))


if __name__ == "__main__":
    main()
