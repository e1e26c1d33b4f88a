"""`benchmarks/bench_distributed.py` still runs: its three scenarios at a tiny scale print their
figures, and the commit race finds no anomaly. No timing is asserted (the machine is shared)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--steps", "2", "--seconds", "0.05", "--mb", "0.1", "--tasks", "5"]


def test_every_scenario_prints_its_figures_and_commits_have_no_anomaly() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/bench_distributed.py",
            *TINY,
            "--procs",
            "3",
            "--commits",
            "8",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    speed_up = next(line for line in lines if line.startswith("speed-up:"))
    assert re.search(r"\d+\.\d\dx \(target 1\.8x\)", speed_up)
    assert any(line.startswith("overhead in CPU") for line in lines)
    commits = next(line for line in lines if line.startswith("commits:"))
    assert "24 rows in" in commits and " 0 anomalies " in commits
