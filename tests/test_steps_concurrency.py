"""Two processes running pipelines on one SQLite stack: every run completes, nothing is lost."""

from __future__ import annotations

import json
import multiprocessing

import flow_artifacts as fa
from tests import steps_workers

RUNS_PER_WORKER = 6


def test_two_processes_run_pipelines_on_one_sqlite_stack(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOW_ARTIFACTS_STACK", raising=False)
    root = tmp_path / "shared"
    fa.Stack.local(root).close()  # create the catalog once, as a user's first run would
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    outs = [tmp_path / f"worker{w}.json" for w in range(2)]
    workers = [
        context.Process(
            target=steps_workers.run_pipelines,
            args=(str(root), w, RUNS_PER_WORKER, barrier, str(outs[w])),
        )
        for w in range(2)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=300)
        assert process.exitcode == 0

    runs = [run for out in outs for run in json.loads(out.read_text())]
    assert len(runs) == 2 * RUNS_PER_WORKER
    assert len({run["id"] for run in runs}) == len(runs)
    assert all(run["status"] == "completed" for run in runs)
    assert sorted((r["result"]["worker"], r["result"]["n"]) for r in runs) == [
        (w, n) for w in range(2) for n in range(RUNS_PER_WORKER)
    ]

    stack = fa.Stack.local(root)
    artifact_ids = [a for run in runs for a in run["artifacts"].values()]
    assert len(set(artifact_ids)) == len(artifact_ids) == 4 * len(runs)
    assert stack.catalog.count("race") == len(artifact_ids)
    for name in ("ingest", "features", "labels", "report"):
        versions = sorted(a.version for a in fa.list_artifacts("race", name=name, stack=stack))
        assert versions == list(range(1, len(runs) + 1))
    for run in runs:
        report = fa.get_artifact(run["artifacts"]["report"], stack=stack)
        assert report.load() == run["result"]
        recorded = stack.catalog.step_runs_of_run("race", run["id"])
        assert sorted(s.step for s in recorded) == ["ingest", "prepare", "report"]
        assert all(s.status == "completed" for s in recorded)
        lineage = report.lineage()
        assert {m.name for m in lineage.artifacts.values()} == {
            "report",
            "features",
            "labels",
            "ingest",
        }
    statuses = [r.status for r in stack.catalog.runs("race", limit=1000)]
    assert statuses == ["completed"] * len(runs)
    stack.close()
