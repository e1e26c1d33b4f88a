"""A Prefect flow that Prefect loads by entrypoint in a new process (`prefect flow-run retry`):
its first run fails after its first step while `FA_TEST_FAIL_ONCE` names a file that exists
(the run deletes it), so the retry goes past it."""

import os
from pathlib import Path

import prefect

from flow_artifacts import step


@step
def prepared(n: int) -> dict:
    return {"n": n}


@prefect.task
@step
def counted(n: int) -> dict:  # a task run: its step run carries the task run's id
    return {"count": n}


@step
def finished(numbers: dict) -> dict:
    return {"done": numbers["n"]}


@prefect.flow
def fails_once(n: int) -> dict:
    numbers = prepared(n)
    counted(n)
    marker = Path(os.environ["FA_TEST_FAIL_ONCE"])
    if marker.exists():
        marker.unlink()
        raise RuntimeError("the first attempt fails")
    return finished(numbers)


@prefect.task
@step
def squared(n: int) -> dict:  # sent to a task runner's worker: a step run there
    return {"n": n * n}


@step
def incremented(number: dict) -> dict:
    return {"n": number["n"] + 1}


@prefect.task
def plus_one(number: dict) -> int:  # a plain task calling a step in the worker
    return incremented(number)["n"]


@prefect.flow
def spread(n: int) -> list[int]:
    """Run with a Dask or Ray task runner (`spread.with_options(task_runner=...)`)."""
    return [plus_one.submit(squared.submit(i)).result() for i in range(n)]
