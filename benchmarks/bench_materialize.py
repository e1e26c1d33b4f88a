"""How much `ArtifactStore.materialize` / `load` cost over writing and reading Parquet by hand.

    python benchmarks/bench_materialize.py                 # 5,000,000 x 10, 5 runs each
    python benchmarks/bench_materialize.py --rows 200000 --repeat 3

Every operation runs `--repeat` times, in rounds that run each operation once in a shuffled order,
so drifting disk cache, background write-back or CPU clock speed hits all of them alike; the median
is reported with its ratio to the raw pyarrow baseline. Writes always create a new file. `load`
verifies the checksum, as it does by default. Import times are measured inside fresh interpreters,
so they exclude interpreter start-up but include everything the import pulls in.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import flow_artifacts as fa


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """10 columns: ints, floats (some NaN), strings (some null), categories, tz-aware timestamps."""
    rng = np.random.default_rng(seed)
    words = np.array(
        [f"item-{i:05d}-{rng.integers(1 << 30):x}" for i in range(50_000)], dtype=object
    )
    names = words[rng.integers(0, len(words), rows)]
    names[rng.random(rows) < 0.05] = None
    start = np.datetime64("2024-01-01T00:00:00", "us").astype("int64")
    stamps = start + rng.integers(0, 365 * 86_400 * 10**6, rows)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "count": rng.integers(-1000, 1000, rows, dtype="int32"),
            "price": rng.random(rows) * 100,
            "ratio": np.where(rng.random(rows) < 0.1, np.nan, rng.standard_normal(rows)),
            "name": pd.Series(names, dtype="str"),
            "code": pd.Series(words[rng.integers(0, 1000, rows)], dtype="str"),
            "country": pd.Categorical.from_codes(
                rng.integers(0, 200, rows), [f"c{i}" for i in range(200)]
            ),
            "status": pd.Categorical.from_codes(
                rng.integers(0, 4, rows), ["new", "open", "done", "lost"]
            ),
            "created": pd.to_datetime(stamps, unit="us", utc=True),
            "updated": pd.to_datetime(stamps + 3_600 * 10**6, unit="us", utc=True).tz_convert(
                "Europe/Paris"
            ),
        }
    )


Timing = tuple[float, float]
"""(wall seconds, CPU seconds of this process in all its threads)."""


def timed(action: Callable[[], object]) -> Timing:
    """How long `action` takes, starting with dirty pages flushed and garbage collected.

    CPU time is reported too: on a shared machine, other processes stretch wall time but not it.
    The result is freed only after the clocks stop: freeing a 5M-row frame is not what is measured.
    """
    os.sync()
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    took = time.perf_counter() - wall, time.process_time() - cpu
    del result
    return took


def import_seconds(module: str, repeat: int) -> float:
    """Median time of `import module` in `repeat` fresh interpreters."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repeat)
    ]
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--import-repeat", type=int, default=10)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write (default: a temp dir)"
    )
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-materialize-", dir=args.dir))
    try:
        run(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(args: argparse.Namespace, root: Path) -> None:
    print(f"building a {args.rows:,} x 10 DataFrame ...", flush=True)
    frame = make_frame(args.rows)
    print(frame.dtypes.to_string(), flush=True)
    store = fa.ArtifactStore(root / "store", progress=False)
    raw_path, pandas_path = root / "raw.parquet", root / "pandas.parquet"

    # One copy of each, kept for the read benchmarks.
    pq.write_table(pa.Table.from_pandas(frame), raw_path)
    frame.to_parquet(pandas_path)
    kept = store.materialize(frame, "kept", "bench", "write")

    def to_new_file(write: Callable[[Path], object]) -> Timing:
        """Time writing a new file, as materialize does, then remove it untimed."""
        path = root / f"scratch-{uuid.uuid4().hex[:8]}.parquet"
        took = timed(lambda: write(path))
        path.unlink()
        return took

    def raw_write() -> Timing:
        return to_new_file(lambda path: pq.write_table(pa.Table.from_pandas(frame), path))

    def pandas_write() -> Timing:
        return to_new_file(frame.to_parquet)

    def store_write() -> Timing:
        name = f"w-{uuid.uuid4().hex[:8]}"
        took = timed(lambda: store.materialize(frame, name, "bench", "write"))
        store.delete(f"default/bench/write/{name}")  # untimed: keeps the disk from filling up
        return took

    operations: dict[str, Callable[[], Timing]] = {
        "write: pq.write_table(pa.Table.from_pandas(df))": raw_write,
        "write: df.to_parquet": pandas_write,
        "write: ArtifactStore.materialize": store_write,
        "read:  pq.read_table(path).to_pandas()": lambda: timed(
            lambda: pq.read_table(raw_path).to_pandas()
        ),
        "read:  pd.read_parquet": lambda: timed(lambda: pd.read_parquet(pandas_path)),
        "read:  ArtifactStore.load (verified)": lambda: timed(lambda: store.load(kept.key)),
        "read:  ArtifactStore.load(verify=False)": lambda: timed(
            lambda: store.load(kept.key, verify=False)
        ),
    }
    times: dict[str, list[Timing]] = {name: [] for name in operations}
    for round_ in range(args.repeat):
        order = list(operations)
        random.Random(round_).shuffle(order)  # no operation always runs right after the writes
        for name in order:
            times[name].append(operations[name]())
        print(f"round {round_ + 1}/{args.repeat} done", flush=True)

    wall = {name: statistics.median(t[0] for t in values) for name, values in times.items()}
    cpu = {name: statistics.median(t[1] for t in values) for name, values in times.items()}
    baseline = {
        "write": "write: pq.write_table(pa.Table.from_pandas(df))",
        "read": "read:  pq.read_table(path).to_pandas()",
    }
    print()
    print(
        f"{args.rows:,} rows x 10 columns, median of {args.repeat} "
        f"(artifact {kept.size / 1e6:.1f} MB, raw file {raw_path.stat().st_size / 1e6:.1f} MB)"
    )
    print(f"{'operation':<50} {'wall s':>7} {'min s':>7} {'x raw':>6} {'cpu s':>7} {'x raw':>6}")
    for name, values in times.items():
        base = baseline[name.split(":")[0]]
        print(
            f"{name:<50} {wall[name]:>7.3f} {min(t[0] for t in values):>7.3f} "
            f"{wall[name] / wall[base]:>6.2f} {cpu[name]:>7.3f} {cpu[name] / cpu[base]:>6.2f}"
        )
    print()
    print(f"import time in a fresh interpreter, median of {args.import_repeat}")
    for module in ("flow_artifacts", "pandas", "pyarrow.parquet"):
        print(f"  import {module:<20} {import_seconds(module, args.import_repeat) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
