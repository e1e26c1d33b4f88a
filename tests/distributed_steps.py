"""Steps the distributed tests submit: importable by worker processes, which load them by name."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from flow_artifacts import ArtifactStore, Stack, step
from flow_artifacts.stores.paths import TEMPS


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


@step(outputs=("kept", "big"))
def dies_mid_write(store_root: str, marker: str, rows: int) -> tuple:
    """On its first attempt, SIGKILLs its own worker process while flow_artifacts streams the
    bytes of `big` to the store, after `kept` was committed: a watcher thread waits for that
    write's temporary Parquet file to hold bytes."""
    frame = pd.DataFrame(np.random.default_rng(0).random((rows, 4)), columns=list("abcd"))
    if not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        temps = Path(store_root) / TEMPS
        threading.Thread(target=_kill_while_writing, args=(temps,), daemon=True).start()
    return {"rows": rows}, frame


def _kill_while_writing(temps: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for path in temps.glob("*.parquet"):
            try:
                if path.stat().st_size > 0:
                    os.kill(os.getpid(), signal.SIGKILL)
            except FileNotFoundError:  # that write just ended; the next one is watched
                pass
        time.sleep(0.001)


@step
def naps(frame: pd.DataFrame, seconds: float) -> pd.DataFrame:
    time.sleep(seconds)
    return frame


@step(outputs=("kept", "big"))
def dies_mid_upload(stack_file: str, marker: str, rows: int) -> tuple:
    """Like `dies_mid_write`, on any store: the watcher SIGKILLs the worker once `big`'s
    pending-write record is in the store (its lease taken, its bytes on their way)."""
    frame = pd.DataFrame(np.random.default_rng(0).random((rows, 4)), columns=list("abcd"))
    if not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        store = Stack.from_yaml(stack_file).store
        threading.Thread(target=_kill_once_leased, args=(store, "/big"), daemon=True).start()
    return {"rows": rows}, frame


def _kill_once_leased(store: ArtifactStore, key_end: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(w.key.endswith(key_end) for w in store.writes()[0].values()):
            time.sleep(0.05)  # into the upload
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.005)


def fails_with(message: str) -> None:
    """A plain task (not a step) that fails."""
    raise StepBroke(message)
