"""Every target of issue 18 as a ratio, measured side by side in one run: `make bench`.

    python benchmarks/ratios.py                 # full sizes (about an hour on 2 busy cores)
    python benchmarks/ratios.py --quick         # small sizes, 2 trials: checks the harness itself
    python benchmarks/ratios.py --only small_save,imports --trials 5

Each contender of a row (the raw baseline, the peers Kedro, Dagster, MLflow when installed,
flow_artifacts) runs in a fresh interpreter of its own; every trial runs all contenders of a row
once in a shuffled order (interleaved, so drifting disk cache or CPU clock hits them alike), and the
table shows each contender's median and its ratio to the baseline's median of the same run.
Set-up (building the frame, writing what a load reads) happens in the child before its clock
starts, or once in the parent for the large inputs. On a shared machine absolute numbers are
noisy; the ratios are what the targets are stated in.

Ratios are oriented so that larger is better for rates ("x base" of a per-second figure is
contender / baseline) and smaller is better for times (contender / baseline).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
REPORT = {"accuracy": 0.93, "rows": 1000, "notes": "x" * 820}
"""A ~870-byte JSON report, the small artifact of the issue's figures."""
MIB = 1 << 20


# --------------------------------------------------------------------------------------------
# Children: each runs in a fresh interpreter, does its set-up, then times only the work.
# --------------------------------------------------------------------------------------------


def _fa_stack(root: Path) -> Any:
    import flow_artifacts as fa

    return fa.Stack.local(root / ".flow_artifacts")


def _fa_warm_stack(root: Path, sample: Any) -> Any:
    """A stack whose process has written once already (`sample`, then deleted): the first write
    opens the catalog and the store and imports the write path, which the public names load
    lazily. That is set-up paid once per process, like the peers' imports before their clocks."""
    import flow_artifacts as fa

    stack = _fa_stack(root)
    fa.materialize(sample, "warm-up", "bench", "warm", "bench", stack=stack)
    fa.delete("store://bench/warm-up", stack=stack)
    return stack


def _raw_catalog(path: Path) -> sqlite3.Connection:
    """The baseline's catalog: one SQLite table in WAL mode, as the SQLite catalog sets it up."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS a (name TEXT PRIMARY KEY, path TEXT, sha256 TEXT)")
    return db


def _raw_save(folder: Path, db: sqlite3.Connection, name: str, obj: Any) -> None:
    """json + sha256 + write to a temp file + atomic rename + one SQLite row, committed."""
    data = json.dumps(obj).encode()
    digest = hashlib.sha256(data).hexdigest()
    final = folder / f"{name}.json"
    temp = folder / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    temp.write_bytes(data)
    os.replace(temp, final)
    db.execute("BEGIN")
    db.execute("INSERT INTO a VALUES (?, ?, ?)", (name, str(final), digest))
    db.execute("COMMIT")


def _raw_load(db: sqlite3.Connection, name: str) -> Any:
    """One SQLite lookup + read + sha256 verify + json."""
    path, digest = db.execute("SELECT path, sha256 FROM a WHERE name = ?", (name,)).fetchone()
    data = Path(path).read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise RuntimeError("checksum mismatch")
    return json.loads(data)


def _dagster_save(root: Path) -> Callable[[str, Any], None]:
    """Dagster's filesystem IO manager (the default for assets) storing outputs, as a run does.

    Only saves: a standalone input context starts an ephemeral Dagster instance per load, which
    a real run does not, so Dagster loads are left out rather than measured unfairly.
    """
    import logging

    from dagster import AssetKey, build_output_context, build_resources
    from dagster._core.storage.fs_io_manager import PickledObjectFilesystemIOManager

    logging.getLogger("dagster").setLevel(logging.WARNING)  # a debug line per output otherwise
    manager = PickledObjectFilesystemIOManager(base_dir=str(root / "dagster"))
    # One resources object per process, as a run builds them once (building them per context
    # would start an ephemeral instance, with its database migrations, every time).
    resources = build_resources({}).__enter__()

    def save(name: str, obj: Any) -> None:
        context = build_output_context(asset_key=AssetKey(name), resources=resources)
        manager.handle_output(context, obj)

    return save


def _mlflow_io(root: Path) -> tuple[Callable[[str, Any], None], Callable[[str], Any]]:
    """MLflow's artifact logging of a dict in one open run, on a local tracking store."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    run = mlflow.start_run()
    where = f"runs:/{run.info.run_id}"
    return (lambda name, obj: mlflow.log_dict(obj, f"{name}.json")), (
        lambda name: mlflow.artifacts.load_dict(f"{where}/{name}.json")
    )


def _small_setup(tool: str, root: Path) -> tuple[Callable[[str, Any], None], Callable[[str], Any]]:
    """(save, load) of one small JSON report by `tool`, each addressed by a name."""
    if tool in ("raw", "json_dump"):
        folder = root / "raw"
        folder.mkdir(exist_ok=True)
        db = _raw_catalog(root / "raw.db")
        if tool == "json_dump":

            def dump(name: str, obj: Any) -> None:
                with open(folder / f"{name}.json", "w") as out:
                    json.dump(obj, out)

            return dump, lambda name: json.loads((folder / f"{name}.json").read_bytes())
        return (lambda name, obj: _raw_save(folder, db, name, obj)), (
            lambda name: _raw_load(db, name)
        )
    if tool == "kedro":
        from kedro_datasets.json import JSONDataset

        return (
            lambda name, obj: JSONDataset(filepath=str(root / "kedro" / f"{name}.json")).save(obj)
        ), (lambda name: JSONDataset(filepath=str(root / "kedro" / f"{name}.json")).load())
    if tool == "dagster":
        return _dagster_save(root), _no_load
    if tool == "mlflow":
        return _mlflow_io(root)
    if tool == "fa":
        import flow_artifacts as fa

        stack = _fa_stack(root)
        uris: dict[str, str] = {}

        def save(name: str, obj: Any) -> None:
            uris[name] = fa.materialize(obj, name, "run", "evaluate", "bench", stack=stack).uri

        return save, lambda name: fa.load(uris.get(name, f"store://bench/{name}"), stack=stack)
    raise ValueError(tool)


def _no_load(name: str) -> Any:
    raise ValueError("this contender only saves")


def child_small_save(params: dict) -> dict:
    root = Path(params["dir"])
    if params["tool"] == "fa_batch":
        return _fa_batch_save(root, params["count"])
    save, _ = _small_setup(params["tool"], root)
    save("warm-up", REPORT)
    count = params["count"]
    started = time.perf_counter()
    for i in range(count):
        save(f"r{i}", REPORT)
    return {"value": count / (time.perf_counter() - started)}


def _fa_batch_save(root: Path, count: int) -> dict:
    """All `count` reports committed by one `materialize_many` (one catalog transaction)."""
    import flow_artifacts as fa

    stack = _fa_stack(root)
    fa.materialize_many({"warm-up": REPORT}, "run", "evaluate", "bench", stack=stack)
    reports = {f"r{i}": REPORT for i in range(count)}
    started = time.perf_counter()
    fa.materialize_many(reports, "run", "evaluate", "bench", stack=stack)
    return {"value": count / (time.perf_counter() - started)}


def child_small_load(params: dict) -> dict:
    root = Path(params["dir"])
    save, load = _small_setup(params["tool"], root)
    count = params["count"]
    for i in range(count):
        save(f"r{i}", REPORT)
    load("r0")
    started = time.perf_counter()
    for i in range(count):
        load(f"r{i}")
    return {"value": count / (time.perf_counter() - started)}


def _timed(action: Callable[[], object]) -> dict:
    """Wall seconds of `action` (dirty pages flushed and garbage collected first), CPU beside."""
    os.sync()
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    took = {"value": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    del result
    return took


def child_frame_save(params: dict) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pq.read_table(params["source"]).to_pandas()
    root, tool = Path(params["dir"]), params["tool"]
    target = root / f"out-{uuid.uuid4().hex[:8]}.parquet"
    if tool == "raw":
        return _timed(lambda: pq.write_table(pa.Table.from_pandas(frame), target))
    if tool == "kedro":
        from kedro_datasets.pandas import ParquetDataset

        return _timed(lambda: ParquetDataset(filepath=str(target)).save(frame))
    if tool == "fa":
        import flow_artifacts as fa

        stack = _fa_warm_stack(Path(params["stack"]), frame.head(10))
        name = f"w-{uuid.uuid4().hex[:8]}"
        took = _timed(lambda: fa.materialize(frame, name, "bench", "write", "bench", stack=stack))
        fa.delete(f"store://bench/{name}", stack=stack)  # keeps the disk from filling up
        return took
    raise ValueError(tool)


def child_frame_load(params: dict) -> dict:
    import pandas  # noqa: F401  (imported before the clock starts: not what is measured)
    import pyarrow.parquet  # noqa: F401

    tool, where = params["tool"], params["where"]
    if tool == "raw":
        import pyarrow.parquet as pq

        return _timed(lambda: pq.read_table(where).to_pandas())
    if tool == "kedro":
        from kedro_datasets.pandas import ParquetDataset

        return _timed(lambda: ParquetDataset(filepath=where).load())
    if tool in ("fa", "fa_noverify"):
        import flow_artifacts as fa

        stack = _fa_stack(Path(params["stack"]))
        verify = tool == "fa"
        fa.get_artifact(where, stack=stack)  # the catalog is warm, as in a pipeline
        return _timed(lambda: fa.load(where, verify=verify, stack=stack))
    raise ValueError(tool)


def make_model(megabytes: int) -> Any:
    """A model-like object: arrays of weights, a vocabulary, a config; cloudpickles to ~`mb` MB."""
    import numpy as np

    rng = np.random.default_rng(0)
    weights = int(megabytes * 0.9 * MIB / 8)
    vocab = {f"token-{i}": i for i in range(int(megabytes * 0.1 * MIB / 24))}
    layers = [rng.standard_normal(weights // 8) for _ in range(8)]
    return {"layers": layers, "vocab": vocab, "config": {"depth": 8, "activation": "relu"}}


def child_pickle_save(params: dict) -> dict:
    import cloudpickle

    model = make_model(params["mb"])
    root, tool = Path(params["dir"]), params["tool"]
    target = root / f"model-{uuid.uuid4().hex[:8]}.pkl"

    def raw() -> None:
        with open(target, "wb") as out:
            cloudpickle.dump(model, out)

    if tool == "raw":
        return _timed(raw)
    if tool == "kedro":
        from kedro_datasets.pickle import PickleDataset

        return _timed(
            lambda: PickleDataset(filepath=str(target), backend="cloudpickle").save(model)
        )
    if tool == "dagster":
        save = _dagster_save(root)
        return _timed(lambda: save(f"m{uuid.uuid4().hex[:8]}", model))
    if tool == "fa":
        import flow_artifacts as fa

        stack = _fa_warm_stack(Path(params["stack"]), {"layers": model["layers"][:0]})
        name = f"m-{uuid.uuid4().hex[:8]}"
        took = _timed(lambda: fa.materialize(model, name, "bench", "train", "bench", stack=stack))
        fa.delete(f"store://bench/{name}", stack=stack)
        return took
    raise ValueError(tool)


def child_pickle_load(params: dict) -> dict:
    import cloudpickle
    import numpy  # noqa: F401  (imported before the clock starts: not what is measured)

    tool, where = params["tool"], params["where"]

    def raw() -> Any:
        with open(where, "rb") as source:
            return cloudpickle.load(source)

    if tool == "raw":
        return _timed(raw)
    if tool == "kedro":
        from kedro_datasets.pickle import PickleDataset

        return _timed(lambda: PickleDataset(filepath=where, backend="cloudpickle").load())
    if tool == "fa":
        import flow_artifacts as fa

        stack = _fa_stack(Path(params["stack"]))
        fa.get_artifact(where, stack=stack)
        return _timed(lambda: fa.load(where, stack=stack))
    raise ValueError(tool)


def child_step(params: dict) -> dict:
    """Median ms per call of a step writing a 1 KB report (or of what it is compared with)."""
    root, tool, calls = Path(params["dir"]), params["tool"], params["calls"]

    def report(i: int) -> dict:
        return {**REPORT, "run": i}

    samples = []

    def measure(call: Callable[[int], object]) -> None:
        for i in range(10):
            call(-1 - i)
        for i in range(calls):
            started = time.perf_counter()
            call(i)
            samples.append((time.perf_counter() - started) * 1000)

    if tool == "plain":
        measure(report)
    elif tool == "kedro":
        from kedro_datasets.json import JSONDataset

        measure(lambda i: JSONDataset(filepath=str(root / f"k{i}.json")).save(report(i)))
    else:
        import flow_artifacts as fa

        stack = _fa_stack(root)
        with fa.use_stack(stack):
            if tool == "fa_materialize":
                measure(lambda i: fa.materialize(report(i), "m", f"r{i}", "s", "bench"))
            elif tool == "fa_load":
                written = fa.materialize(report(0), "m", "r0", "s", "bench")
                measure(lambda i: fa.load(written))
            elif tool == "fa_step":
                step = fa.step(name="report")(report)
                with fa.run(project="bench"):
                    measure(step)
            elif tool == "fa_cache_hit":
                cached = fa.step(name="cached_report", cache=True)(report)
                with fa.run(project="bench"):
                    cached(0)
                    measure(lambda i: cached(0))
            else:
                raise ValueError(tool)
    return {"value": statistics.median(samples)}


def child_s3(params: dict) -> dict:
    """One S3 transfer against moto's server; value in MiB/s (or puts/s), peak RSS over baseline."""
    import s3fs

    import flow_artifacts as fa
    from flow_artifacts.catalog import Catalog

    options, bucket, work = params["options"], params["bucket"], Path(params["dir"])
    fs = s3fs.S3FileSystem(**options)
    stack = fa.Stack(
        store=fa.ArtifactStore(f"s3://{bucket}", progress=False, **options),
        catalog=Catalog(f"sqlite:///{params['catalog']}"),
    )
    warm = fa.materialize(b"warm-up", f"warm-{uuid.uuid4().hex}", "warm", "s", "bench", stack=stack)
    fa.download(warm.uri, work / f"warm-{uuid.uuid4().hex}", stack=stack)
    fs.get_file(warm.path, str(work / f"warm-{uuid.uuid4().hex}"))
    task, source = params["task"], params.get("source")
    target = work / f"out-{uuid.uuid4().hex}"
    small = [os.urandom(4096) for _ in range(params.get("count", 0))]
    requests: list[str] = []  # S3 requests of the timed work, counted on the client
    for client in {fs.s3, stack.store.fs.s3}:
        client.meta.events.register("before-call.s3", lambda event_name, **_: requests.append(1))
    baseline = _memory("VmRSS")
    started = time.perf_counter()
    if task == "raw_put":
        fs.put_file(source, f"{bucket}/raw/{uuid.uuid4().hex}")
    elif task == "fa_put":
        fa.upload_file(source, f"big-{uuid.uuid4().hex[:8]}", "bench", stack=stack)
    elif task == "raw_get":
        fs.get_file(params["remote"], str(target))
    elif task == "fa_get":
        fa.download(params["uri"], target, stack=stack)
    elif task == "raw_small":
        for i, data in enumerate(small):
            fs.pipe_file(f"{bucket}/small/{uuid.uuid4().hex}-{i}", data)
    elif task == "fa_small":
        run = uuid.uuid4().hex[:8]
        for i, data in enumerate(small):
            fa.materialize(data, f"s{i}", run, "s", "bench", stack=stack)
    else:
        raise ValueError(task)
    took = time.perf_counter() - started
    peak = _memory("VmHWM") - baseline
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
    if small:
        return {
            "value": len(small) / took,
            "peak_mib": peak / MIB,
            "requests": len(requests) / len(small),
        }
    return {"value": params["size_mib"] / took, "peak_mib": peak / MIB, "requests": len(requests)}


def _memory(field_name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field_name} in /proc/self/status")


def child_catalog(params: dict) -> dict:
    """Median ms of each catalog query the issue names, on a filled catalog."""
    import flow_artifacts as fa
    from flow_artifacts.catalog import Catalog

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_catalog import latency_ms

    catalog = Catalog(params["url"])
    stack = fa.Stack(store=fa.ArtifactStore(params["store"]), catalog=catalog)
    version = max(1, params["rows"] // 2000)
    queries = {
        "latest": lambda: fa.get_artifact("store://bench/name7", stack=stack),
        "a version": lambda: fa.get_artifact(f"store://bench/name7@{version}", stack=stack),
        "list page": lambda: fa.list_page("bench", stack=stack),
        "label page": lambda: fa.list_page("bench", labels={"team": "t3"}, stack=stack),
        "versions": lambda: catalog.versions("bench", "name7", page_size=20),
        "lineage 5": lambda: fa.lineage(params["tail"], depth=None, stack=stack),
    }
    query = queries[params["query"]]
    return {"value": latency_ms(query, repeat=params["repeat"])}


CHILDREN: dict[str, Callable[[dict], dict]] = {
    "small_save": child_small_save,
    "small_load": child_small_load,
    "frame_save": child_frame_save,
    "frame_load": child_frame_load,
    "pickle_save": child_pickle_save,
    "pickle_load": child_pickle_load,
    "step": child_step,
    "s3": child_s3,
    "catalog": child_catalog,
}


# --------------------------------------------------------------------------------------------
# Parent: rows of contenders, interleaved trials, one table.
# --------------------------------------------------------------------------------------------


@dataclass
class Contender:
    label: str
    run: Callable[[], dict]
    """One trial in a fresh process; returns {"value": ..., maybe more}."""
    results: list[dict] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(r["value"] for r in self.results)

    def extra(self, key: str) -> float | None:
        values = [r[key] for r in self.results if key in r]
        return statistics.median(values) if values else None


@dataclass
class Row:
    title: str
    unit: str
    contenders: list[Contender]
    higher_is_better: bool
    target: str = ""
    check: Callable[[Row], str] | None = None
    """Given the measured row, 'yes'/'NO' and the figure the target is stated in."""
    ratios: bool = True
    """False where the target is absolute (ms per call, ms per query): no ratio column."""


def spawn(kind: str, params: dict, timeout: float) -> dict:
    """Run child `kind` in a fresh interpreter; its last stdout line is its JSON result."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--params", json.dumps(params)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=params.get("cwd", REPO),
    )
    if done.returncode:
        raise RuntimeError(
            f"child {kind} {params.get('tool') or params.get('task')} failed:\n"
            + done.stderr[-3000:]
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def process_seconds(command: list[str], cwd: Path) -> dict:
    """Wall seconds of a whole process, start-up included (for imports and the CLI)."""
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return {"value": time.perf_counter() - started}


def has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def ratio(row: Row, contender: Contender) -> float:
    return contender.median / row.contenders[0].median


def by_label(row: Row, label: str) -> Contender:
    return next(c for c in row.contenders if c.label == label)


def fresh(root: Path, name: str) -> str:
    path = root / f"{name}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    return str(path)


def build_rows(args: argparse.Namespace, root: Path, stack: contextlib.ExitStack) -> list[Row]:
    quick = args.quick
    modules = {"kedro": "kedro_datasets", "dagster": "dagster", "mlflow": "mlflow"}
    peers = [peer for peer, module in modules.items() if has_module(module)]
    rows: list[Row] = []
    wanted = (lambda name: name in args.only) if args.only else (lambda name: True)
    timeout = 600 if quick else 3600

    if wanted("small_save") or wanted("small_load"):
        count = 200 if quick else 2000
        for kind, title in (("small_save", "save"), ("small_load", "load")):
            if not wanted(kind):
                continue
            tools = (
                ["raw", *peers, "fa", "fa_batch", "json_dump"]
                if kind == "small_save"
                else ["raw", *(["kedro"] if "kedro" in peers else []), "fa"]
            )

            def contender(tool: str, kind: str = kind) -> Contender:
                return Contender(
                    {
                        "raw": "raw baseline",
                        "fa_batch": "fa materialize_many (one batch)",
                        "json_dump": "plain json.dump (batch target)",
                    }.get(tool, tool),
                    lambda: spawn(
                        kind, {"tool": tool, "count": count, "dir": fresh(root, kind)}, timeout
                    ),
                )

            def check(row: Row, kind: str = kind) -> str:
                fa_ratio = ratio(row, by_label(row, "fa"))
                need = 0.6 if kind == "small_save" else 0.5
                text = f"fa {fa_ratio:.2f}x >= {need}x: {'yes' if fa_ratio >= need else 'NO'}"
                if kind == "small_save":
                    dump = by_label(row, "plain json.dump (batch target)").median
                    batch = by_label(row, "fa materialize_many (one batch)").median / dump
                    text += (
                        f"; batch vs json.dump {batch:.2f}x >= 1: {'yes' if batch >= 1 else 'NO'}"
                    )
                return text

            rows.append(
                Row(
                    f"{title} {count:,} small JSON reports (~870 B)",
                    "per s",
                    [contender(t) for t in tools],
                    True,
                    "save >= 0.6x raw; load >= 0.5x raw; batch >= json.dump",
                    check,
                )
            )

    if wanted("step"):
        calls = 30 if quick else 300
        tools = [
            "plain",
            *(["kedro"] if "kedro" in peers else []),
            "fa_materialize",
            "fa_load",
            "fa_step",
            "fa_cache_hit",
        ]
        labels = {
            "plain": "plain function",
            "kedro": "kedro JSONDataset.save",
            "fa_materialize": "fa.materialize alone",
            "fa_load": "fa.load of the report",
            "fa_step": "fa @step in a run",
            "fa_cache_hit": "fa @step cache hit",
        }

        def step_check(row: Row) -> str:
            """A step call's overhead is over writing its output (`fa.materialize` alone) and a
            cache hit's over loading the reused output, as the target states them."""
            median = {c.label: c.median for c in row.contenders}
            over = {
                "@step in a run": median[labels["fa_step"]] - median[labels["fa_materialize"]],
                "cache hit": median[labels["fa_cache_hit"]] - median[labels["fa_load"]],
            }
            return "; ".join(
                f"{k} +{v:.2f} ms < 1: {'yes' if v < 1 else 'NO'}" for k, v in over.items()
            )

        rows.append(
            Row(
                f"@step writing a 1 KB report, median of {calls} calls",
                "ms/call",
                [
                    Contender(
                        labels[t],
                        lambda t=t: spawn(
                            "step", {"tool": t, "calls": calls, "dir": fresh(root, "step")}, timeout
                        ),
                    )
                    for t in tools
                ],
                False,
                "overhead per call (over materialize) and per cache hit (over load) < 1 ms",
                step_check,
                ratios=False,
            )
        )

    if wanted("imports"):
        bare = [sys.executable, "-c", "pass"]
        api = [sys.executable, "-c", "from flow_artifacts import materialize, load, step, pipeline"]

        def import_check(row: Row) -> str:
            over = (row.contenders[1].median - row.contenders[0].median) * 1000
            heavy = (
                subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        "from flow_artifacts import materialize, load, step, "
                        "pipeline; import sys; print(' '.join(m for m in ('sqlalchemy', 'pandas', "
                        "'pyarrow', 'fsspec', 'numpy') if m in sys.modules))",
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=REPO,
                ).stdout.strip()
                or "none"
            )
            return f"+{over:.0f} ms < 150: {'yes' if over < 150 else 'NO'}; eager: {heavy}"

        rows.append(
            Row(
                "import the public API (materialize, load, step, pipeline)",
                "s",
                [
                    Contender("python -c pass", lambda: process_seconds(bare, REPO)),
                    Contender("fa import", lambda: process_seconds(api, REPO)),
                ],
                False,
                "< 150 ms over python -c pass",
                import_check,
            )
        )

    if wanted("cli"):
        script = Path(sys.executable).parent / "flow-artifacts"
        cli = [str(script)] if script.exists() else [sys.executable, "-m", "flow_artifacts"]
        empty = Path(fresh(root, "cli-empty"))

        def cli_check(row: Row) -> str:
            base = row.contenders[0].median
            helps, ls = (
                by_label(row, "flow-artifacts --help").median,
                by_label(row, "flow-artifacts ls").median,
            )
            return (
                f"--help {helps * 1000:.0f} ms < 150: {'yes' if helps < 0.150 else 'NO'}; "
                f"ls {ls * 1000:.0f} ms < 300: {'yes' if ls < 0.300 else 'NO'} "
                f"(python -c pass {base * 1000:.0f} ms)"
            )

        rows.append(
            Row(
                "CLI start-up in an empty folder",
                "s",
                [
                    Contender(
                        "python -c pass",
                        lambda: process_seconds([sys.executable, "-c", "pass"], empty),
                    ),
                    Contender(
                        "flow-artifacts --help", lambda: process_seconds([*cli, "--help"], empty)
                    ),
                    Contender("flow-artifacts ls", lambda: process_seconds([*cli, "ls"], empty)),
                ],
                False,
                "--help < 150 ms, ls < 300 ms",
                cli_check,
            )
        )

    if wanted("frame"):
        rows += frame_rows(args, root, peers, timeout)
    if wanted("pickle"):
        rows += pickle_rows(args, root, peers, timeout)
    if wanted("s3"):
        rows += s3_rows(args, root, stack, timeout)
    if wanted("catalog"):
        rows += catalog_rows(args, root, stack, timeout)
    return rows


def frame_rows(args: argparse.Namespace, root: Path, peers: list[str], timeout: float) -> list[Row]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    import flow_artifacts as fa

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_materialize import make_frame

    rows_n = args.frame_rows or (100_000 if args.quick else 5_000_000)
    print(f"building a {rows_n:,} x 10 DataFrame ...", flush=True)
    frame = make_frame(rows_n)
    source = root / "frame-source.parquet"
    pq.write_table(pa.Table.from_pandas(frame), source)
    stack_dir = fresh(root, "frame-stack")
    stack = _fa_stack(Path(stack_dir))
    kept = fa.materialize(frame, "kept", "bench", "write", "bench", stack=stack).uri
    kedro_path = str(root / "kedro-frame.parquet")
    if "kedro" in peers:
        from kedro_datasets.pandas import ParquetDataset

        ParquetDataset(filepath=kedro_path).save(frame)
    stack.close()
    del frame
    tools = ["raw", *(["kedro"] if "kedro" in peers else []), "fa"]

    def save(tool: str) -> Contender:
        return Contender(
            tool if tool != "raw" else "raw pyarrow",
            lambda: spawn(
                "frame_save",
                {"tool": tool, "source": str(source), "dir": fresh(root, "fs"), "stack": stack_dir},
                timeout,
            ),
        )

    where = {"raw": str(source), "kedro": kedro_path, "fa": kept, "fa_noverify": kept}
    labels = {
        "raw": "raw pyarrow (unverified)",
        "kedro": "kedro",
        "fa": "fa (verified)",
        "fa_noverify": "fa (verify=False)",
    }

    def load(tool: str) -> Contender:
        return Contender(
            labels[tool],
            lambda: spawn(
                "frame_load", {"tool": tool, "where": where[tool], "stack": stack_dir}, timeout
            ),
        )

    def save_check(row: Row) -> str:
        r = ratio(row, by_label(row, "fa"))
        cpu = by_label(row, "fa").extra("cpu") / row.contenders[0].extra("cpu")
        return f"fa {r:.2f}x (cpu {cpu:.2f}x) <= 1.03: {'yes' if r <= 1.03 else 'NO'}"

    def load_check(row: Row) -> str:
        r = ratio(row, by_label(row, "fa (verified)"))
        return f"fa verified {r:.2f}x <= 1.0: {'yes' if r <= 1.0 else 'NO'}"

    return [
        Row(
            f"save a {rows_n:,} x 10 DataFrame (Parquet)",
            "s",
            [save(t) for t in tools],
            False,
            "<= 1.03x raw pyarrow",
            save_check,
        ),
        Row(
            "warm load of it",
            "s",
            [load(t) for t in [*tools, "fa_noverify"]],
            False,
            "verified <= 1.0x raw unverified read",
            load_check,
        ),
    ]


def pickle_rows(
    args: argparse.Namespace, root: Path, peers: list[str], timeout: float
) -> list[Row]:
    import cloudpickle

    import flow_artifacts as fa

    mb = args.pickle_mb or (4 if args.quick else 51)
    model = make_model(mb)
    raw_path = root / "model.pkl"
    with open(raw_path, "wb") as out:
        cloudpickle.dump(model, out)
    size = raw_path.stat().st_size / 1e6
    stack_dir = fresh(root, "pickle-stack")
    stack = _fa_stack(Path(stack_dir))
    kept = fa.materialize(model, "model", "bench", "train", "bench", stack=stack).uri
    stack.close()
    where = {"raw": str(raw_path), "fa": kept}
    if "kedro" in peers:
        from kedro_datasets.pickle import PickleDataset

        where["kedro"] = str(root / "kedro-model.pkl")
        PickleDataset(filepath=where["kedro"], backend="cloudpickle").save(model)
    del model
    tools = ["raw", *(p for p in peers if p != "mlflow"), "fa"]

    def contender(kind: str, tool: str) -> Contender:
        params = {
            "tool": tool,
            "mb": mb,
            "dir": fresh(root, "pk"),
            "stack": stack_dir,
            "where": where.get(tool),
        }
        label = "raw cloudpickle" if tool == "raw" else tool
        return Contender(label, lambda: spawn(kind, params, timeout))

    def check(row: Row) -> str:
        r = ratio(row, by_label(row, "fa"))
        return f"fa {r:.2f}x <= 1.1: {'yes' if r <= 1.1 else 'NO'}"

    return [
        Row(
            f"save a {size:.0f} MB model (cloudpickle)",
            "s",
            [contender("pickle_save", t) for t in tools],
            False,
            "<= 1.1x raw",
            check,
        ),
        Row(
            "load it (verified)",
            "s",
            [contender("pickle_load", t) for t in tools if t != "dagster"],
            False,
            "<= 1.1x raw",
            check,
        ),
    ]


def s3_rows(
    args: argparse.Namespace, root: Path, stack: contextlib.ExitStack, timeout: float
) -> list[Row]:
    import s3fs

    import flow_artifacts as fa
    from flow_artifacts.catalog import Catalog

    sys.path.insert(0, str(REPO))
    from tests.servers import s3_server

    server = stack.enter_context(s3_server())
    bucket = server.create_bucket()
    options = server.storage_options
    size_mib = args.s3_mib or (32 if args.quick else 1024)
    count = 50 if args.quick else 500
    source = root / "big.bin"
    with open(source, "wb") as out:
        for _ in range(size_mib):
            out.write(os.urandom(MIB))
    catalog_path = root / "s3-catalog.db"
    fs = s3fs.S3FileSystem(**options)
    remote = f"{bucket}/raw/source"
    fs.put_file(str(source), remote)
    fa_stack = fa.Stack(
        store=fa.ArtifactStore(f"s3://{bucket}", progress=False, **options),
        catalog=Catalog(f"sqlite:///{catalog_path}"),
    )
    uri = fa.upload_file(source, "big-source", "bench", stack=fa_stack).uri
    fa_stack.close()

    def contender(label: str, task: str) -> Contender:
        params = {
            "task": task,
            "options": options,
            "bucket": bucket,
            "source": str(source),
            "catalog": str(catalog_path),
            "remote": remote,
            "uri": uri,
            "size_mib": size_mib,
            "count": count if "small" in task else 0,
        }
        return Contender(label, lambda: spawn("s3", {**params, "dir": fresh(root, "s3")}, timeout))

    def check(need: float) -> Callable[[Row], str]:
        def text(row: Row) -> str:
            fa_c = row.contenders[1]
            r = ratio(row, fa_c)
            peak = fa_c.extra("peak_mib")
            raw_c = row.contenders[0]
            return (
                f"fa {r:.2f}x >= {need}: {'yes' if r >= need else 'NO'}; "
                f"fa peak +{peak:.0f} MiB, s3fs +{raw_c.extra('peak_mib'):.0f}; "
                f"S3 requests{' per put' if 'small' in row.title else ''}: "
                f"fa {fa_c.extra('requests'):.0f}, s3fs {raw_c.extra('requests'):.0f}"
            )

        return text

    return [
        Row(
            f"S3 (moto) upload {size_mib} MiB",
            "MiB/s",
            [contender("s3fs put_file", "raw_put"), contender("fa upload_file", "fa_put")],
            True,
            ">= 0.95x s3fs, peak < 256 MiB for 1 GiB",
            check(0.95),
        ),
        Row(
            f"S3 (moto) download {size_mib} MiB",
            "MiB/s",
            [contender("s3fs get_file", "raw_get"), contender("fa download", "fa_get")],
            True,
            ">= 0.95x s3fs",
            check(0.95),
        ),
        Row(
            f"S3 (moto) {count} small 4 KiB puts",
            "per s",
            [contender("s3fs pipe_file", "raw_small"), contender("fa materialize", "fa_small")],
            True,
            ">= 0.8x s3fs",
            check(0.8),
        ),
    ]


def catalog_rows(
    args: argparse.Namespace, root: Path, stack: contextlib.ExitStack, timeout: float
) -> list[Row]:
    from flow_artifacts.catalog import Catalog

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_catalog import fill_catalog

    rows_n = args.catalog_rows or (10_000 if args.quick else 1_000_000)
    urls = {"SQLite": f"sqlite:///{root / 'big-catalog.db'}"}
    if args.postgres:
        sys.path.insert(0, str(REPO))
        from tests.servers import postgres_server

        urls["PostgreSQL"] = stack.enter_context(postgres_server()).create_database()
    result = []
    for engine, url in urls.items():
        print(f"filling a {engine} catalog with {rows_n:,} artifacts ...", flush=True)
        started = time.perf_counter()
        catalog = Catalog(url)
        tail = fill_catalog(catalog, rows_n)
        catalog.close()
        print(f"  filled in {time.perf_counter() - started:.0f} s", flush=True)
        queries = ["latest", "a version", "list page", "label page", "versions", "lineage 5"]
        store = fresh(root, "catalog-store")

        def contender(
            query: str, url: str = url, tail: str = tail, store: str = store
        ) -> Contender:
            params = {
                "url": url,
                "tail": tail,
                "rows": rows_n,
                "store": store,
                "query": query,
                "repeat": 10 if args.quick else 50,
            }
            return Contender(query, lambda: spawn("catalog", params, timeout))

        def check(row: Row) -> str:
            worst = max(row.contenders, key=lambda c: c.median)
            return f"slowest {worst.label} {worst.median:.2f} ms < 10: " + (
                "yes" if worst.median < 10 else "NO"
            )

        result.append(
            Row(
                f"catalog queries, {rows_n:,} artifacts, {engine}",
                "ms",
                [contender(q) for q in queries],
                False,
                "each < 10 ms",
                check,
                ratios=False,
            )
        )
    return result


def run_rows(rows: list[Row], trials: int) -> None:
    for row in rows:
        print(f"{row.title}: {len(row.contenders)} contenders x {trials} trials", flush=True)
        for trial in range(trials):
            order = list(row.contenders)
            random.Random(f"{row.title}{trial}").shuffle(order)
            for contender in order:
                contender.results.append(contender.run())


def print_table(rows: list[Row], trials: int) -> None:
    print(
        f"\nmedians of {trials} interleaved trials, each contender in its own process; "
        "x base = ratio to the row's first contender (rates: higher is better; times: lower)\n"
    )
    print(f"{'work / contender':<58} {'median':>12} {'unit':<8} {'x base':>7}")
    for row in rows:
        print(f"{row.title}")
        for contender in row.contenders:
            value = contender.median
            shown = f"{value:,.0f}" if value >= 100 else f"{value:.3f}"
            times = f"{ratio(row, contender):>7.2f}" if row.ratios else f"{'-':>7}"
            cpu = contender.extra("cpu")
            cpu_shown = f"  cpu {cpu:.3f} s" if cpu is not None else ""
            print(f"  {contender.label:<56} {shown:>12} {row.unit:<8} {times}{cpu_shown}")
        if row.check:
            print(f"  -> target {row.target}: {row.check(row)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 trials")
    parser.add_argument("--trials", type=int, default=None, help="default 5 (2 with --quick)")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated: small_save, small_load, "
        "step, imports, cli, frame, pickle, s3, catalog",
    )
    parser.add_argument("--frame-rows", type=int, default=0, help="default 5,000,000")
    parser.add_argument("--pickle-mb", type=int, default=0, help="model size, default 51")
    parser.add_argument("--catalog-rows", type=int, default=0, help="default 1,000,000")
    parser.add_argument("--s3-mib", type=int, default=0, help="large S3 transfer, default 1024")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="also fill and query a PostgreSQL catalog (the suite's cluster)",
    )
    parser.add_argument("--dir", default=None, help="where to write (default: the temp dir)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](json.loads(args.params))))
        return 0
    args.only = {name for name in args.only.split(",") if name}
    trials = args.trials or (2 if args.quick else 5)
    root = Path(tempfile.mkdtemp(prefix="bench-ratios-", dir=args.dir))
    try:
        with contextlib.ExitStack() as stack:
            rows = build_rows(args, root, stack)
            run_rows(rows, trials)
        print_table(rows, trials)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
