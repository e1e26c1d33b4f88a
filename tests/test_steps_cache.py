"""Content-hash caching: hits reuse committed outputs; code, parameter and input changes miss."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

import flow_artifacts as fa
from flow_artifacts import step

calls: list[str] = []


@step
def produce(values: list) -> pd.DataFrame:
    return pd.DataFrame({"v": values})


@step(cache=True)
def total(df: pd.DataFrame, scale: int = 1) -> dict:
    calls.append("total")
    return {"total": int(df["v"].sum()) * scale}


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()


def _run(values: list, *, scale: int = 1, cache: bool = True) -> fa.Run:
    with fa.run(project="demo", cache=cache) as run:
        total(produce(values), scale=scale)
    return run


def _cached(run: fa.Run, name: str = "total") -> bool:
    [record] = [s for s in run.steps if s.step == name]
    return record.cached


def test_a_hit_skips_the_function_and_reuses_the_committed_outputs(local_stack):
    first = _run([1, 2, 3])
    second = _run([1, 2, 3])

    assert calls == ["total"]
    assert not _cached(first) and _cached(second)
    reused = second.artifacts["total"]
    assert reused.id == first.artifacts["total"].id and reused.load() == {"total": 6}
    [hit] = [s for s in second.steps if s.step == "total"]
    recorded = local_stack.catalog.step_run(hit.id)
    assert recorded.cached and recorded.status == "completed" and recorded.run_id == second.id
    assert recorded.inputs == [second.artifacts["produce"].id]  # lineage of the cached call
    assert recorded.cache_key == local_stack.catalog.step_run(first.steps[1].id).cache_key
    assert fa.lineage(second.artifacts["produce"], "downstream").step_runs[hit.id].cached


def test_a_hit_is_recorded_in_one_journal_record_and_replays(local_stack):
    """A hit records its step run finished at once (one transaction, one journal record), so
    no crash can leave it half-recorded; `reindex` gives back the same step run."""
    _run([1, 2, 3])
    before = {r.path for r in local_stack.store.journal.read()[0]}
    second = _run([1, 2, 3])
    added = [r for r in local_stack.store.journal.read()[0] if r.path not in before]
    [hit] = [s for s in second.steps if s.step == "total"]
    assert [r.op for r in added if r.fields.get("id") == hit.id] == ["step_run_cached"]
    recorded = local_stack.catalog.step_run(hit.id)
    assert (recorded.status, recorded.cached, recorded.attempt) == ("completed", True, 1)
    assert hit.status == "completed" and hit.cached
    assert hit.outputs["total"].id == second.artifacts["total"].id


def test_inputs_count_by_content_not_by_name_or_id(local_stack):
    x = fa.materialize(pd.DataFrame({"v": [4, 5]}), "x", "r0", "load", "demo")
    y = fa.materialize(pd.DataFrame({"v": [4, 5]}), "y", "r0", "load", "demo")
    assert x.checksum == y.checksum and x.id != y.id

    with fa.run(project="demo") as first:
        assert total(fa.ref("store://demo/x")) == {"total": 9}
    with fa.run(project="demo") as second:
        assert total(y) == {"total": 9}

    assert calls == ["total"] and _cached(second) and not _cached(first)
    assert second.steps[0].inputs == [y]


def test_a_change_of_input_content_misses(local_stack):
    _run([1, 2])
    _run([1, 3])
    changed_back = _run([1, 2])
    assert calls == ["total", "total"] and _cached(changed_back)


def test_a_change_of_parameters_misses(local_stack):
    _run([1, 2], scale=1)
    scaled = _run([1, 2], scale=10)
    again = _run([1, 2], scale=10)
    assert calls == ["total", "total"]
    assert scaled.artifacts["total"].load() == {"total": 30} and _cached(again)


def test_a_change_of_code_misses_but_formatting_and_comments_do_not(local_stack):
    frame = pd.DataFrame({"v": [1, 2]})

    def double(df: pd.DataFrame) -> dict:
        calls.append("v1")
        return {"out": int(df["v"].sum()) * 2}

    v1 = step(cache=True)(double)

    def double(df: pd.DataFrame) -> dict:  # noqa: F811 - the same step, reformatted
        calls.append("v1")  # a comment changes nothing
        return {"out": int(df["v"].sum()) * 2}

    v1_reformatted = step(cache=True)(double)

    def double(df: pd.DataFrame) -> dict:  # noqa: F811 - the same step, new code
        calls.append("v2")
        return {"out": int(df["v"].sum()) * 3}

    v2 = step(cache=True)(double)

    with fa.run(project="demo"):
        assert v1(frame) == {"out": 6}
    with fa.run(project="demo") as reformatted:
        assert v1_reformatted(frame) == {"out": 6}
    with fa.run(project="demo") as changed:
        assert v2(frame) == {"out": 9}
    assert calls == ["v1", "v2"]
    assert _cached(reformatted, "double") and not _cached(changed, "double")


def test_values_a_step_closes_over_are_part_of_its_key(local_stack):
    def make(threshold: int):
        @step(name="count_above", cache=True)
        def count_above(values: list) -> dict:
            calls.append(f"t{threshold}")
            return {"n": sum(v > threshold for v in values)}

        return count_above

    with fa.run(project="demo"):
        assert make(1)([1, 2, 3]) == {"n": 2}
        assert make(2)([1, 2, 3]) == {"n": 1}
        assert make(1)([1, 2, 3]) == {"n": 2}
    assert calls == ["t1", "t2"]


def test_cache_false_forces_a_miss_and_refreshes_what_later_runs_reuse(local_stack):
    first = _run([1, 2])
    forced = _run([1, 2], cache=False)
    later = _run([1, 2])

    assert calls == ["total", "total"] and not _cached(forced) and _cached(later)
    assert forced.artifacts["total"].id != first.artifacts["total"].id
    assert later.artifacts["total"].id == forced.artifacts["total"].id


def test_a_hit_returns_several_outputs_in_the_shape_of_a_fresh_call(local_stack):
    @step(outputs=("low", "high"), cache=True)
    def partition(values: list, cut: int):
        calls.append("partition")
        return {"low": [v for v in values if v < cut], "high": [v for v in values if v >= cut]}

    with fa.run(project="demo"):
        fresh = partition([1, 5, 9], cut=5)
    with fa.run(project="demo") as second:
        reused = partition([1, 5, 9], cut=5)

    assert calls == ["partition"]
    assert fresh == reused == ([1], [5, 9])
    assert (reused.low, reused["high"]) == ([1], [5, 9])
    assert set(second.artifacts) == {"low", "high"} and _cached(second, "partition")


def test_outputs_deleted_or_corrupted_since_mean_a_miss(local_stack, caplog):
    first = _run([7])
    fa.delete(first.artifacts["total"])
    second = _run([7])
    assert calls == ["total", "total"] and not _cached(second)
    assert second.artifacts["total"].load() == {"total": 7}

    Path(second.artifacts["total"].path).write_bytes(b'{"total": 70}')
    third = _run([7])
    assert calls == ["total"] * 3 and not _cached(third)
    assert third.artifacts["total"].load() == {"total": 7}
    assert "cannot be loaded" in caplog.text and "corrupted" in caplog.text


def test_a_failed_call_is_never_reused(local_stack):
    attempts: list[int] = []

    @step(cache=True)
    def flaky(n: int) -> dict:
        attempts.append(n)
        if len(attempts) == 1:
            raise RuntimeError("transient")
        return {"n": n}

    with pytest.raises(RuntimeError), fa.run(project="demo"):
        flaky(1)
    with fa.run(project="demo") as retry:
        assert flaky(1) == {"n": 1}
    assert attempts == [1, 1] and not _cached(retry, "flaky")


def test_an_argument_without_a_stable_form_runs_uncached_with_a_warning(local_stack):
    @step(cache=True)
    def guarded(lock, n: int) -> dict:
        calls.append("guarded")
        return {"n": n}

    lock = threading.Lock()
    for _ in range(2):
        with (
            fa.run(project="demo") as run,
            pytest.warns(
                fa.CacheWarning, match="'guarded' runs without its cache: a _thread.lock cannot be"
            ),
        ):
            guarded(lock, 1)
    assert calls == ["guarded", "guarded"]
    assert run.steps[0].cache_key is None


def test_a_framework_task_runs_hit_keeps_its_task_run_id(tmp_path):
    """A framework task run (here task `task-7` with its own id) that hits the cache is recorded
    under the framework's id, completed and cached, like any hit."""
    from tests.test_hooks import FrameworkRun

    @step(name="prep", cache=True)
    def prep(n: int) -> dict:
        calls.append("prep")
        return {"n": n}

    stack = fa.Stack.local(tmp_path)
    with fa.run(project="fw", stack=stack):
        prep(2)
    with FrameworkRun(project="fw", run_id="framework-run-1", stack=stack) as framework:
        assert prep(2) == {"n": 2}
    assert calls == ["prep"]
    [hit] = stack.catalog.step_runs_of_run("fw", "framework-run-1")
    assert (hit.id, hit.step) == ("0f0e0d0c-0000-4000-8000-000000000007", "task-7")
    assert (hit.status, hit.cached, hit.attempt) == ("completed", True, 1)
    assert framework.steps[0].id == hit.id and framework.steps[0].cached
    stack.close()
