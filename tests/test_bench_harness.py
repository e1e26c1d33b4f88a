"""`make bench`'s harness still runs: its quick mode on the cheapest rows prints a table of ratios.

No timing is asserted (the machine is shared); only that every contender ran in its own process
and that each row printed its ratios and its verdict against the issue's target.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_mode_prints_a_ratio_for_every_contender(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/ratios.py",
            "--quick",
            "--trials",
            "1",
            "--only",
            "small_save,imports,cli",
            "--dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    table = done.stdout.split("x base", 1)[1]
    for contender in (
        "raw baseline",
        "fa ",
        "fa materialize_many",
        "plain json.dump",
        "python -c pass",
        "fa import",
        "flow-artifacts --help",
        "flow-artifacts ls",
    ):
        line = next(line for line in table.splitlines() if line.strip().startswith(contender))
        assert re.search(r"\d+\.\d\d$", line), line
    assert table.count("-> target") == 3
    assert list(tmp_path.iterdir()) == []  # the harness cleans up after itself
