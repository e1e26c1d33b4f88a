"""flow-artifacts-kedro under Kedro's async mode (`kedro run --async`, or a runner made with
`is_async=True`): inputs load and outputs save in threads of their own, yet each artifact is
recorded under its entry's name, as the output of its node, as without async."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kedro.framework.hooks import _create_hook_manager
from kedro.framework.session import KedroSession
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import node, pipeline
from kedro.runner import ParallelRunner, SequentialRunner, ThreadRunner

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog

from .conftest import kedro_command, on_both_catalogs, recorded
from .kedro_project import PACKAGE


@pytest.fixture
def stack(tmp_path, kedro_env, catalog_url):
    stack = fa.Stack(store=fa.ArtifactStore(tmp_path / "artifacts"), catalog=Catalog(catalog_url))
    with fa.use_stack(stack):
        yield stack
    stack.close()


def kedro_run(project: Path, runner, **options) -> str:
    with KedroSession.create(project) as session:
        session.run(runner=runner, **options)
        return session.session_id


SHAPES = {  # the "shapes" pipeline: a node without inputs, one with two outputs (a factory's)
    "make_raw": ("completed", [], ["raw"]),
    "clean": ("completed", ["raw"], ["clean"]),
    "report": ("completed", ["clean"], ["report"]),
    "seed": ("completed", [], ["seed"]),
    "split": ("completed", ["raw"], ["evens_part", "odds_part"]),
    "compare": ("completed", ["evens_part", "odds_part"], ["comparison"]),
}
SHAPES_ARTIFACTS = sorted(  # (name, step, saved by the run at hand)
    (name, step, True) for step, (*_, outputs) in SHAPES.items() for name in outputs
)


@on_both_catalogs
def test_an_async_run_records_what_a_run_without_async_does(project, stack):
    expected = recorded(stack, kedro_run(project, SequentialRunner(), pipeline_name="shapes"))
    assert (expected["steps"], expected["artifacts"]) == (SHAPES, SHAPES_ARTIFACTS)
    assert ("raw", "step split") in expected["lineage"]
    assert ("evens_part", "step compare") in expected["lineage"]
    run_id = kedro_run(project, SequentialRunner(is_async=True), pipeline_name="shapes")
    assert recorded(stack, run_id) == expected
    assert stack.catalog.run(PACKAGE, run_id).status == "completed"
    assert fa.get_artifact(f"store://{PACKAGE}/comparison").load() == {"first": 2, "second": 1}
    assert {a.name for a in fa.list_artifacts(PACKAGE)} == {
        name for *_, outputs in SHAPES.values() for name in outputs
    }


@pytest.mark.filterwarnings("ignore:'ThreadRunner' doesn't support")
@pytest.mark.parametrize(
    "runner",
    [lambda: ThreadRunner(max_workers=2, is_async=True), lambda: ParallelRunner(2, is_async=True)],
    ids=["thread", "parallel"],
)
def test_async_with_the_thread_and_parallel_runners(project, stack, runner):
    """Kedro 1.7's ThreadRunner turns `is_async` off (with a warning); ParallelRunner's workers
    save in threads of their own, with the binding their datasets' pickled state carries."""
    run_id = kedro_run(project, runner(), pipeline_name="shapes")
    found = recorded(stack, run_id)
    assert (found["steps"], found["artifacts"]) == (SHAPES, SHAPES_ARTIFACTS)
    assert stack.catalog.run(PACKAGE, run_id).status == "completed"


def test_kedro_run_on_the_command_line_with_async(project, stack, tmp_path):
    done = kedro_command(
        project, stack, tmp_path, "run", "--pipeline", "shapes", "--runner-params", "is_async=True"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Asynchronous mode is enabled" in done.stdout + done.stderr
    (run,) = stack.catalog.runs(PACKAGE)
    found = recorded(stack, run.run_id)
    assert (found["steps"], found["artifacts"]) == (SHAPES, SHAPES_ARTIFACTS)


def test_an_async_run_inside_a_node_of_another_records_into_its_own(project, stack, monkeypatch):
    """Two runs at once in one process: the saves and loads of the inner (async) one, in
    threads of their own, go to the inner run; the outer loads what it wrote, not the inner's."""
    monkeypatch.setenv("FA_KEDRO_ASYNC", "1")
    outer = kedro_run(project, SequentialRunner(is_async=True), pipeline_name="overlap")
    raws = {a.run_id: a for a in fa.list_artifacts(PACKAGE, name="raw")}
    (inner,) = set(raws) - {outer}
    assert (raws[inner].step, raws[inner].load()["x"].tolist()) == ("make_raw", list(range(7)))
    assert len(fa.get_artifact(f"store://{PACKAGE}/clean").load()) == 3
    steps = {s.step: s for s in stack.catalog.step_runs_of_run(PACKAGE, outer)}
    assert steps["clean"].inputs == [raws[outer].id]
    assert [s.step for s in stack.catalog.step_runs_of_run(PACKAGE, inner)] == ["make_raw"]


def run_in_code(catalog: DataCatalog, nodes: list, runner) -> str:
    """What `KedroSession.run` does with the plugin's hooks, for a catalog built in code."""
    from flow_artifacts_kedro.hooks import hooks

    manager = _create_hook_manager()
    manager.register(hooks)
    run_id = uuid.uuid4().hex
    params = {"run_id": run_id, "pipeline_names": ["in_code"]}
    steps = pipeline(nodes)
    manager.hook.before_pipeline_run(run_params=params, pipeline=steps, catalog=catalog)
    try:
        runner.run(steps, catalog, manager, run_id=run_id)
    except Exception as error:
        manager.hook.on_pipeline_error(
            error=error, run_params=params, pipeline=steps, catalog=catalog
        )
        raise
    manager.hook.after_pipeline_run(
        run_params=params, run_result={}, pipeline=steps, catalog=catalog
    )
    return run_id


def test_one_dataset_under_two_entries_is_refused_under_async_not_misnamed(project, stack):
    """Which of its entries an async save is for, no hook says: the run fails, saving nothing,
    where without async each save is named after the entry its hook names."""
    from flow_artifacts_kedro import ArtifactDataset

    shared = ArtifactDataset()
    catalog = DataCatalog({"first": shared, "second": shared, "params:n": MemoryDataset(3)})
    nodes = [
        node(lambda n: {"n": n}, "params:n", "first", name="make_first"),
        node(lambda first: {"again": first["n"]}, "first", "second", name="make_second"),
    ]
    with pytest.raises(Exception, match="several catalog entries"):
        run_in_code(catalog, nodes, SequentialRunner(is_async=True))
    (failed,) = stack.catalog.runs(PACKAGE)
    assert failed.status == "failed" and "several catalog entries" in failed.error
    assert list(fa.list_artifacts(PACKAGE)) == []

    run_id = run_in_code(catalog, nodes, SequentialRunner())
    first, second = (fa.get_artifact(f"store://{PACKAGE}/{n}") for n in ("first", "second"))
    assert [(a.step, a.run_id) for a in (first, second)] == [
        ("make_first", run_id),
        ("make_second", run_id),
    ]
    assert second.load() == {"again": 3}
    steps = {s.step: s for s in stack.catalog.step_runs_of_run(PACKAGE, run_id)}
    assert steps["make_second"].inputs == [first.id]
