"""Real processes killed with SIGKILL in runs with an executor: a worker mid-write (Dask process
workers, local Ray; a folder store with SQLite, and moto's S3 with PostgreSQL) and the driver
mid-run (Dask).

A worker's kill leaves the dead write's lease in the store (and on a folder, the bytes it had
streamed, in reserved space), which prove the kill came mid-write; nothing of it is visible, the
engine's retry is recorded as attempt 2 and the run completes; once the lease expires, gc
removes what the dead write left and keeps every committed artifact.
"""

from __future__ import annotations

import sys
from pathlib import Path

import flow_artifacts as fa
from flow_artifacts.maintenance import gc, verify

from . import distributed_steps as ds
from .gc_support import expire_leases, kill_when

ROOT = Path(__file__).resolve().parent.parent
ROWS = 600_000  # ~19 MB of Parquet: a write long enough to be caught in the middle


def killed_mid_write(stack: fa.Stack, executor: object, marker: Path) -> fa.Run:
    """The run of a step whose worker is killed while it streams bytes to a folder store."""
    with fa.run(project="dist", stack=stack, executor=executor) as run:  # type: ignore[arg-type]
        ds.dies_mid_write(str(stack.store.root), str(marker), ROWS)
    return run


def killed_mid_upload(stack_file: Path, executor: object, marker: Path) -> tuple[fa.Stack, fa.Run]:
    """The run of a step whose worker is killed 50 ms after taking its lease for `big`."""
    stack = fa.Stack.from_yaml(stack_file)
    with fa.run(project="dist", stack=stack, executor=executor) as run:  # type: ignore[arg-type]
        ds.dies_mid_upload(str(stack_file), str(marker), ROWS)
    return stack, run


def assert_retried_with_nothing_half_visible(stack: fa.Stack, run: fa.Run, marker: Path) -> None:
    assert marker.exists() and run.status == "completed"
    (record,) = stack.catalog.step_runs_of_run("dist", run.id)
    assert (record.status, record.attempt) == ("completed", 2)
    # `kept`, committed before the kill, is kept; `big` is written once, by attempt 2
    assert [m.version for m in stack.catalog.versions("dist", "kept").items] == [1]
    assert [m.version for m in stack.catalog.versions("dist", "big").items] == [1]
    assert run.artifacts["kept"].load() == {"rows": ROWS}
    assert len(run.artifacts["big"].load()) == ROWS  # checksum verified on load
    keys = {run.artifacts[name].key for name in ("kept", "big")}
    assert set(stack.store.list_artifacts()) == keys
    assert all(result.ok for result in verify(stack=stack))
    # the dead write's lease and partial bytes: proof of a kill mid-write, in reserved space
    (dead,) = stack.store.writes()[0].values()
    assert dead.key == run.artifacts["big"].key
    # once its lease expires, gc removes exactly what the dead write left
    assert expire_leases(stack.store) == 1
    report = gc(stack=stack)
    assert not report.unaccounted and not report.unreadable
    assert len(fa.load("store://dist/big", stack=stack)) == ROWS
    assert stack.store.writes()[0] == {}


def test_a_dask_worker_killed_mid_write_is_retried_and_nothing_half_visible(dask_client, tmp_path):
    stack = fa.Stack.local(tmp_path / "fa", project="dist")
    marker = tmp_path / "killed-mid-write"
    run = killed_mid_write(stack, fa.DaskExecutor(dask_client), marker)
    partial = [p for p in stack.store.inventory() if p.startswith(".flow-artifacts/tmp/")]
    assert partial  # the bytes the killed write had streamed, in reserved space
    assert_retried_with_nothing_half_visible(stack, run, marker)
    assert not set(partial) & set(stack.store.inventory())  # gc removed them


def test_a_dask_worker_killed_mid_upload_to_s3_is_retried_and_nothing_half_visible(
    dask_client, stack_file, tmp_path
):
    marker = tmp_path / "killed-mid-upload"
    stack, run = killed_mid_upload(stack_file, fa.DaskExecutor(dask_client), marker)
    assert_retried_with_nothing_half_visible(stack, run, marker)


def test_a_ray_worker_killed_mid_write_is_retried_and_nothing_half_visible(ray_instance, tmp_path):
    stack = fa.Stack.local(tmp_path / "fa", project="dist")  # SQLite: fine on a local Ray
    marker = tmp_path / "killed-mid-write-on-ray"
    run = killed_mid_write(stack, fa.RayExecutor(), marker)
    assert_retried_with_nothing_half_visible(stack, run, marker)


def test_a_ray_worker_killed_mid_upload_to_s3_is_retried_and_nothing_half_visible(
    ray_instance, stack_file, tmp_path
):
    marker = tmp_path / "killed-mid-upload-on-ray"
    stack, run = killed_mid_upload(stack_file, fa.RayExecutor(), marker)
    assert_retried_with_nothing_half_visible(stack, run, marker)


def test_a_driver_killed_mid_run_leaves_its_run_crashed(dask_client, tmp_path):
    folder = tmp_path / "fa"
    said: list[str] = []

    def running(line: str) -> bool:
        said.append(line)
        return line.startswith("running ")

    address = dask_client.scheduler.address
    kill_when([sys.executable, "-m", "tests.distributed_driver", address, str(folder)], running)
    run_id = said[-1].split()[1]
    stack = fa.Stack.local(folder, project="dist")
    assert stack.catalog.run("dist", run_id).status == "crashed"
    (listed,) = [r for r in stack.catalog.runs("dist") if r.run_id == run_id]
    assert listed.status == "crashed"
    steps = {r.step: r for r in stack.catalog.step_runs_of_run("dist", run_id)}
    assert steps["load_part"].status == "completed"
    assert len(fa.load("store://dist/load_part", stack=stack)) == 3
