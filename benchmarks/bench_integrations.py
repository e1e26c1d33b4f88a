"""What each framework integration costs per output over the framework's own default storage.

For a ~1 KB JSON report and a DataFrame of `--rows` rows (1M by default), measured in one run:

- Kedro: `ArtifactDataset.save` inside a recorded run and node, against kedro-datasets'
  `JSONDataset` / `ParquetDataset` saving to a local file (dataset level: a session's own fixed
  cost is the same for both);
- Dagster: `dg.materialize()` of one asset with `FlowArtifactsIOManager`, against Dagster's
  `FilesystemIOManager` (a whole in-process run each, so Dagster's own run cost is included);
- Prefect: a flow calling one task, `flow_artifacts_prefect.task` against `prefect.task` with
  `persist_result=True` (Prefect's result persistence), under Prefect's test harness.

flow-artifacts records a checksum, a catalog row, a step run (started, then ended with its status)
and lineage for each output on top, and the run's start and end for Dagster and Prefect.
Reported: median milliseconds per output for each, timed in alternation, and the median of their
ratios (target: within 1.1x).

    python benchmarks/bench_integrations.py [--rows 1000000] [--repeats 5] [--only kedro,prefect]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

import flow_artifacts as fa

TARGET = 1.1
Results = dict[str, tuple[float, float, float]]
"""Object kind -> (default storage ms, flow-artifacts ms, ratio) per output."""


def report_object(i: int) -> dict:
    return {"accuracy": 0.93, "run": i, "notes": "x" * 980}


def frame_of(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"id": range(rows), "value": [i * 0.5 for i in range(rows)]})


def paired_ms(
    repeats: int, default: Callable[[int], Any], ours: Callable[[int], Any]
) -> tuple[float, float, float]:
    """Median ms of each, and the median of their ratios, timed in alternation: on a shared
    machine the load drifts, and two series timed one after the other would see different
    loads."""
    default(-1)  # warm up: imports, first connections
    ours(-1)
    pairs = []
    for i in range(repeats):
        start = time.perf_counter()
        default(i)
        middle = time.perf_counter()
        ours(i)
        pairs.append(((middle - start) * 1000, (time.perf_counter() - middle) * 1000))
    return (
        statistics.median(d for d, _ in pairs),
        statistics.median(o for _, o in pairs),
        statistics.median(o / d for d, o in pairs),
    )


def bench_kedro(root: Path, objects: dict[str, Any], repeats: int) -> Results:
    from flow_artifacts_kedro import ArtifactDataset
    from flow_artifacts_kedro import runtime as kedro_runtime
    from kedro_datasets.json import JSONDataset
    from kedro_datasets.pandas import ParquetDataset

    stack = fa.Stack.local(root / "kedro-fa")
    results = {}
    with fa.use_stack(stack), fa.run(project="bench", run_id="kedro-bench") as run:
        kedro_run = kedro_runtime.KedroRun(run)
        kedro_runtime.begin(kedro_run)
        for kind, obj in objects.items():
            default_type = JSONDataset if kind == "report" else ParquetDataset
            suffix = "json" if kind == "report" else "parquet"

            def default(i: int, kind=kind, obj=obj, default_type=default_type, suffix=suffix):
                default_type(filepath=str(root / f"kedro-{kind}-{i}.{suffix}")).save(obj)

            def ours(i: int, kind=kind, obj=obj):
                node = f"node_{kind}_{i}".replace("-", "m")
                kedro_run.node(node).step = run.start_step(node)
                kedro_runtime.at(node, kind)
                ArtifactDataset().save(obj)
                run.finish_step(kedro_run.node(node).step)

            results[kind] = paired_ms(repeats, default, ours)
        kedro_runtime.end(kedro_run)
    stack.close()
    return results


def bench_dagster(root: Path, objects: dict[str, Any], repeats: int) -> Results:
    import dagster as dg
    from flow_artifacts_dagster import FlowArtifactsIOManager

    stack_file = root / "dagster-stack.yaml"
    stack_file.write_text(
        f"project: bench\nartifact_store: {{url: '{root / 'dagster-fa'}'}}\n"
        f"catalog: {{url: 'sqlite:///{root / 'dagster-fa.db'}'}}\n"
    )
    instance = dg.DagsterInstance.ephemeral()
    results = {}
    for kind, obj in objects.items():
        produce = _asset_returning(dg, kind, obj)
        managers = {
            "default": dg.FilesystemIOManager(base_dir=str(root / "dagster-default")),
            "ours": FlowArtifactsIOManager(stack=str(stack_file)),
        }
        default, ours = (
            lambda i, m=manager, produce=produce: dg.materialize(
                [produce], resources={"io_manager": m}, instance=instance
            )
            for manager in (managers["default"], managers["ours"])
        )
        results[kind] = paired_ms(repeats, default, ours)
    return results


def _asset_returning(dg: Any, kind: str, obj: Any) -> Any:
    @dg.asset(name=kind)
    def produce() -> Any:
        return obj

    return produce


def bench_prefect(root: Path, objects: dict[str, Any], repeats: int) -> Results:
    import flow_artifacts_prefect as fap
    import prefect
    from prefect.testing.utilities import prefect_test_harness

    os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(root / "prefect-results")
    stack = fa.Stack.local(root / "prefect-fa")
    results = {}
    with prefect_test_harness(server_startup_timeout=120), fa.use_stack(stack):
        for kind, obj in objects.items():

            @prefect.task(persist_result=True, cache_policy=prefect.cache_policies.NO_CACHE)
            def default_task(i: int, obj=obj) -> Any:
                return obj

            @prefect.flow
            def default_flow(i: int) -> None:
                default_task(i)

            @fap.task(output=kind, persist_result=False)
            def our_task(i: int, obj=obj) -> Any:
                return obj

            @fap.flow(project="bench")
            def our_flow(i: int) -> None:
                our_task(i)

            results[kind] = paired_ms(repeats, default_flow, our_flow)
    stack.close()
    return results


BENCHES = {"kedro": bench_kedro, "dagster": bench_dagster, "prefect": bench_prefect}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default=",".join(BENCHES))
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    for variable in ("KEDRO_DISABLE_TELEMETRY", "DO_NOT_TRACK"):
        os.environ[variable] = "1"
    objects = {"report": report_object(0), "frame": frame_of(args.rows)}
    print(f"per output, median of {args.repeats}; frame: {args.rows:,} rows")
    print(
        f"{'framework':10} {'object':7} {'default ms':>11} {'flow-artifacts ms':>18} {'ratio':>6}"
    )
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            for kind, (default, ours, ratio) in BENCHES[name](
                Path(tmp), objects, args.repeats
            ).items():
                worst = max(worst, ratio)
                print(f"{name:10} {kind:7} {default:11.1f} {ours:18.1f} {ratio:6.2f}")
    verdict = "within" if worst <= TARGET else "above"
    print(f"worst ratio {worst:.2f}: {verdict} the {TARGET}x target")


if __name__ == "__main__":
    main()
