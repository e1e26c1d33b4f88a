"""Pipelines run in child processes by the step tests (importable by multiprocessing's spawn)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

import flow_artifacts as fa


@fa.step
def ingest(worker: int, n: int) -> pd.DataFrame:
    return pd.DataFrame({"worker": [worker] * 3, "n": [n] * 3, "v": [1, 2, 3]})


@fa.step(outputs=("features", "labels"))
def prepare(frame: pd.DataFrame):
    return frame[["v"]], {"worker": int(frame["worker"][0]), "n": int(frame["n"][0])}


@fa.step
def report(features: pd.DataFrame, labels: dict) -> dict:
    return {**labels, "total": int(features["v"].sum())}


@fa.pipeline(project="race")
def shared_pipeline(worker: int, n: int) -> dict:
    features, labels = prepare(ingest(worker, n))
    return report(features, labels)


def run_pipelines(root: str, worker: int, count: int, barrier: Any, out: str) -> None:
    """Wait for the other worker, then run `count` pipelines on the stack at `root`."""
    stack = fa.Stack.local(root)
    barrier.wait()
    runs = []
    with fa.use_stack(stack):
        for n in range(count):
            run = shared_pipeline(worker, n)
            runs.append(
                {
                    "id": run.id,
                    "status": run.status,
                    "result": run.result,
                    "artifacts": {k: a.id for k, a in run.artifacts.items()},
                }
            )
    Path(out).write_text(json.dumps(runs))
