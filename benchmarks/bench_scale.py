"""The suite's scale tests at full scale: 100,000 artifacts, and a 4 GiB artifact through the CLI.

`make test` runs the same tests scaled down (2,000 artifacts; 1 GiB). Here they run at the size
their figures are quoted for, and print them:

- `tests/test_reliability_many.py` with 1,000 names x 100 runs on SQLite and PostgreSQL: latency of
  a first page, a page 500 deep, the versions of a name and the latest lookup;
- `tests/test_reliability_large.py` with 4 GiB: peak RSS of `upload_file` and `flow-artifacts get`.

    python benchmarks/bench_scale.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCALE = {"FLOW_ARTIFACTS_MANY": "1000x100", "FLOW_ARTIFACTS_LARGE_GIB": "4"}
TESTS = ["tests/test_reliability_many.py", "tests/test_reliability_large.py"]


def main() -> int:
    env = {**os.environ, **{k: os.environ.get(k, v) for k, v in SCALE.items()}}
    command = [sys.executable, "-m", "pytest", "-q", "-s", *TESTS]
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    raise SystemExit(main())
