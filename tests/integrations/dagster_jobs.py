"""A Dagster job for the multiprocess executor, whose step processes import it by name; its
stack file comes from `FA_TEST_STACK`."""

import dagster as dg
from flow_artifacts_dagster import FlowArtifactsIOManager


@dg.op
def numbers() -> list:
    return [1, 2, 3]


@dg.op
def total(numbers: list) -> int:
    return sum(numbers)


@dg.op
def explode(total: int) -> int:
    raise ValueError("no way")


@dg.job(resource_defs={"io_manager": FlowArtifactsIOManager(stack=dg.EnvVar("FA_TEST_STACK"))})
def arithmetic_in_processes():
    explode(total(numbers()))


@dg.job(resource_defs={"io_manager": FlowArtifactsIOManager(stack=dg.EnvVar("FA_TEST_STACK"))})
def arithmetic_succeeding_in_processes():
    total(numbers())
