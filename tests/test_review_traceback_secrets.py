"""Hostile-review: a step's secret parameter (masked as *** in its params) must not reach the
recorded failure, which the run page, `run show`, OpenLineage and the store's journal carry."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import flow_artifacts as fa

SECRET = "hunter2-secret-value"


def _run_failing_step(stack: fa.Stack) -> None:
    @fa.step(outputs="out")
    def train(depth: int, secret_key: str) -> dict:
        try:
            return {"v": {}[secret_key]}
        except KeyError as exc:  # the user's own message names no secret
            raise RuntimeError("lookup failed") from exc

    @fa.pipeline(project="ml")
    def flow() -> None:
        train(2, SECRET)

    with fa.use_stack(stack), pytest.raises(RuntimeError):
        flow()


def test_review_secret_param_not_in_recorded_traceback(local_stack, tmp_path: Path):
    """The new traceback recording (failures.py) prints the chained KeyError's message, which
    is the secret parameter's value: it is masked only against the stack's own secrets."""
    _run_failing_step(local_stack)
    found = subprocess.run(
        ["grep", "-rl", SECRET, str(tmp_path)], capture_output=True, text=True
    ).stdout
    assert found == ""
