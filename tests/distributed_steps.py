"""Steps the distributed tests submit: importable by worker processes, which load them by name."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pandas as pd

from flow_artifacts import step


@step
def load_part(i: int) -> pd.DataFrame:
    return pd.DataFrame({"part": [i] * 3, "x": [i, i + 1, i + 2]})


@step(cache=True)
def featurize(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(x2=frame["x"] * 2)


@step(outputs=("features", "summary"))
def merge(parts: list) -> tuple:
    merged = pd.concat(parts, ignore_index=True)
    return merged, {"rows": len(merged)}


@step
def fit(features: pd.DataFrame) -> dict:
    return {"slope": float(features["x2"].sum() / max(features["x"].sum(), 1))}


@step
def report(model: dict, summary: dict) -> dict:
    return {**model, **summary}


class StepBroke(ValueError):
    """What a failing step raises: the driver must get it back as it was."""


@step
def breaks(frame: pd.DataFrame) -> pd.DataFrame:
    raise StepBroke("column 'z' is missing")


@step
def dies_once(frame: pd.DataFrame, marker: str) -> pd.DataFrame:
    """Kills its own worker process on its first attempt, mid-step."""
    if not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return frame.assign(survived=True)
