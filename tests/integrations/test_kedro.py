"""flow-artifacts-kedro driven by Kedro itself: a project written here, run through KedroSession
(and once through `kedro run`), its datasets and hooks recording into a real stack."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.framework.session import KedroSession

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog

from .conftest import commits_on, kedro_command, on_both_catalogs
from .kedro_project import PACKAGE


@pytest.fixture
def stack(tmp_path, kedro_env, catalog_url):
    catalog = Catalog(catalog_url)
    stack = fa.Stack(store=fa.ArtifactStore(tmp_path / "artifacts"), catalog=catalog)
    with fa.use_stack(stack):
        yield stack
    catalog.close()


def kedro_run(project: Path, **options) -> str:
    """Runs a pipeline in a new session; returns the session id (the flow_artifacts run id)."""
    with KedroSession.create(project) as session:
        session.run(**options)
        return session.session_id


def test_a_kedro_run_on_s3_and_postgresql(project, kedro_env, remote_stack):
    run_id = kedro_run(project)
    (run,) = remote_stack.catalog.runs(PACKAGE)
    assert (run.run_id, run.status) == (run_id, "completed")
    steps = steps_of(remote_stack, run_id)
    assert {s.status for s in steps.values()} == {"completed"}
    raw, clean, report = latest("raw"), latest("clean"), latest("report")
    assert all(a.path.startswith("s3://") for a in (raw, clean, report))
    assert report.load() == {"rows": 3, "total": 30}
    clean.verify()  # the bytes in the bucket match the checksum in PostgreSQL
    assert steps["clean"].inputs == [raw.id] and steps["report"].inputs == [clean.id]
    assert set(report.lineage().artifacts) == {raw.id, clean.id, report.id}


def steps_of(stack: fa.Stack, run_id: str) -> dict:
    return {s.step: s for s in stack.catalog.step_runs_of_run(PACKAGE, run_id)}


def latest(name: str) -> fa.Artifact:
    return fa.get_artifact(f"store://{PACKAGE}/{name}")


@on_both_catalogs
def test_a_kedro_run_is_a_run_and_its_nodes_step_runs_with_lineage(project, stack):
    run_id = kedro_run(project)
    (run,) = stack.catalog.runs(PACKAGE)
    assert (run.run_id, run.status, run.pipeline) == (run_id, "completed", "__default__")
    steps = steps_of(stack, run_id)
    assert {name: s.status for name, s in steps.items()} == {
        "make_raw": "completed",
        "clean": "completed",
        "report": "completed",
    }
    assert steps["make_raw"].params == {"n": 3}
    assert steps["clean"].params == {"factor": 10}
    raw, clean, report = latest("raw"), latest("clean"), latest("report")
    assert (raw.run_id, raw.step, raw.version, raw.materializer) == (
        run_id,
        "make_raw",
        1,
        "pandas.parquet",
    )
    assert clean.labels == {"layer": "primary"}
    assert report.materializer == "builtins.json" and report.load() == {"rows": 3, "total": 30}
    assert steps["clean"].inputs == [raw.id] and steps["clean"].outputs == [clean.id]
    assert steps["report"].inputs == [clean.id]
    assert set(report.lineage().artifacts) == {raw.id, clean.id, report.id}


def test_each_run_saves_a_new_version(project, stack):
    kedro_run(project, pipeline_name="produce")
    second = kedro_run(project, pipeline_name="produce")
    assert [a.version for a in fa.list_artifacts(PACKAGE, name="raw")] == [2, 1]
    assert latest("raw").run_id == second


@on_both_catalogs
def test_a_run_loads_what_it_wrote_though_an_overlapping_run_wrote_a_newer_version(project, stack):
    outer = kedro_run(project, pipeline_name="overlap")
    raw_versions = {a.run_id: a for a in fa.list_artifacts(PACKAGE, name="raw")}
    assert len(raw_versions) == 2
    inner = next(run_id for run_id in raw_versions if run_id != outer)
    assert latest("raw").run_id == inner  # the overlapping run's version is the latest ...
    clean = latest("clean")
    assert len(clean.load()) == 3  # ... yet the outer run read its own 3 rows, not 7
    assert steps_of(stack, outer)["clean"].inputs == [raw_versions[outer].id]
    assert {r.run_id: r.status for r in stack.catalog.runs(PACKAGE)} == {
        outer: "completed",
        inner: "completed",
    }


def test_loads_take_the_pinned_tag_or_version_else_the_latest(project, stack):
    kedro_run(project, pipeline_name="produce")
    with KedroSession.create(project, runtime_params={"n": 5}) as session:
        session.run(pipeline_name="produce")
    fa.tag(f"store://{PACKAGE}/raw@1", "prod")

    kedro_run(project, pipeline_name="consume")
    assert latest("summary").load() == {"rows": 5}  # nothing pinned: the latest
    kedro_run(project, pipeline_name="pinned")
    assert latest("summary").load() == {"rows": 3}  # catalog.yml: load: {tag: prod}
    kedro_run(project, pipeline_name="consume", load_versions={"raw": "prod"})
    assert latest("summary").load() == {"rows": 3}  # --load-versions raw:prod
    consumed = steps_of(stack, latest("summary").run_id)["summarize"]
    assert consumed.inputs == [fa.get_artifact(f"store://{PACKAGE}/raw:prod").id]
    kedro_run(project, pipeline_name="consume", load_versions={"raw": "2"})
    assert latest("summary").load() == {"rows": 5}


def test_a_node_loads_several_versions_of_one_dataset(project, stack):
    kedro_run(project, pipeline_name="produce")
    with KedroSession.create(project, runtime_params={"n": 5}) as session:
        session.run(pipeline_name="produce")
    fa.tag(f"store://{PACKAGE}/raw@2", "prod")
    run_id = kedro_run(project, pipeline_name="versions")  # a dataset factory per version
    assert latest("comparison").load() == {"first": 3, "second": 5}
    (v1, v2) = sorted(fa.list_artifacts(PACKAGE, name="raw"), key=lambda a: a.version)
    assert sorted(steps_of(stack, run_id)["compare"].inputs) == sorted([v1.id, v2.id])
    kedro_run(project, pipeline_name="all_versions")  # load: {versions: [1, prod]}
    assert latest("comparison").load() == {"1": 3, "prod": 5}


@on_both_catalogs
def test_a_failing_node_fails_its_step_run_and_the_run(project, stack):
    with pytest.raises(ValueError, match="cannot explode"):
        kedro_run(project, pipeline_name="failing")
    (run,) = stack.catalog.runs(PACKAGE)
    assert run.status == "failed"
    steps = steps_of(stack, run.run_id)
    assert steps["explode"].status == "failed"
    assert "ValueError: cannot explode" in steps["explode"].error
    assert "hunter2hunter2" not in steps["explode"].error
    assert steps["clean"].status == "completed"
    assert {a.name for a in fa.list_artifacts(PACKAGE)} <= {"raw", "clean", "report"}


def test_a_pin_that_does_not_exist_fails_the_run_clearly(project, stack):
    kedro_run(project, pipeline_name="produce")
    with pytest.raises(Exception, match="prod"):
        kedro_run(project, pipeline_name="consume", load_versions={"raw": "prod"})
    failed = {r.status for r in stack.catalog.runs(PACKAGE)}
    assert failed == {"completed", "failed"}


def test_kedro_run_on_the_command_line_with_a_tag_as_load_version(project, tmp_path, stack):
    kedro_run(project, pipeline_name="produce")
    with KedroSession.create(project, runtime_params={"n": 5}) as session:
        session.run(pipeline_name="produce")
    fa.tag(f"store://{PACKAGE}/raw@1", "prod")
    done = kedro_command(
        project, stack, tmp_path, "run", "--pipeline", "consume", "--load-versions", "raw:prod"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert latest("summary").load() == {"rows": 3}
    assert "loaded dataset raw as store://fa_kedro_demo/raw@1" in done.stdout + done.stderr


def test_outside_a_run_an_entry_needs_a_name(project, stack):
    from flow_artifacts_kedro import ArtifactDataset

    with pytest.raises(Exception, match="has no name"):
        ArtifactDataset().save({"a": 1})
    named = ArtifactDataset(name="notes")
    named.save({"a": 1})
    assert named.load() == {"a": 1} and latest("notes").step == "kedro"


def test_a_bad_load_setting_is_refused(project, stack):
    from flow_artifacts_kedro import ArtifactDataset

    with pytest.raises(fa.ConfigError, match="version: N"):
        ArtifactDataset(load={"version": 1, "tag": "prod"})
    with pytest.raises(fa.ConfigError, match="version: N"):
        ArtifactDataset(load={"latest": True})


def test_the_thread_runner_records_the_same(project, stack):
    from kedro.runner import ThreadRunner

    run_id = kedro_run(project, runner=ThreadRunner(max_workers=2))
    steps = steps_of(stack, run_id)
    assert {name: s.status for name, s in steps.items()} == dict.fromkeys(
        ("make_raw", "clean", "report"), "completed"
    )
    assert steps["report"].inputs == [latest("clean").id]


def test_a_run_cut_short_by_ctrl_c_fails_and_the_next_runs_record_as_usual(project, stack):
    from kedro.runner import ThreadRunner

    with pytest.raises(KeyboardInterrupt):
        kedro_run(project, pipeline_name="interrupted")
    (cut,) = [r for r in stack.catalog.runs(PACKAGE) if r.pipeline == "interrupted"]
    assert cut.status == "running"  # Kedro called no closing hook
    for runner in (ThreadRunner(max_workers=2), None):  # same process, as in a notebook
        run_id = kedro_run(project, runner=runner)
        steps = steps_of(stack, run_id)
        assert {name: s.status for name, s in steps.items()} == dict.fromkeys(
            ("make_raw", "clean", "report"), "completed"
        )
        assert stack.catalog.run(PACKAGE, run_id).status == "completed"
    cut = stack.catalog.run(PACKAGE, cut.run_id)  # ended by the next run's start
    assert cut.status == "failed" and "KeyboardInterrupt" in (cut.error or "")
    assert fa.current_run() is None


def test_a_kedro_run_commits_each_node_once_and_the_journal_rebuilds_it(
    project, stack, catalog_url_factory
):
    with commits_on(stack.catalog) as commits:  # the stack's connections open in these runs
        with pytest.raises(ValueError, match="cannot explode"):
            kedro_run(project, pipeline_name="failing")
        commits.clear()
        run_id = kedro_run(project)
    # the run's start with the first node's start, each output, each node's end with the
    # next node's start, and the last one's with the run's end: 7 transactions, where 11 were
    assert len(commits) == 7
    runs = {r.run_id: (r.status, r.pipeline, r.error) for r in stack.catalog.runs(PACKAGE)}
    assert sorted(status for status, _, _ in runs.values()) == ["completed", "failed"]
    history = {
        r: {
            s.step: (s.id, s.status, s.error, s.inputs, s.outputs)
            for s in steps_of(stack, r).values()
        }
        for r in runs
    }
    assert history[run_id]["report"][1] == "completed"

    store = fa.ArtifactStore(stack.store.url)
    rebuilt = fa.Stack(store=store, catalog=Catalog(catalog_url_factory()), plugins=store.plugins)
    assert fa.reindex(stack=rebuilt).skipped == []  # the store alone: manifests and journal
    assert {
        r.run_id: (r.status, r.pipeline, r.error) for r in rebuilt.catalog.runs(PACKAGE)
    } == runs
    assert {
        r: {
            s.step: (s.id, s.status, s.error, s.inputs, s.outputs)
            for s in steps_of(rebuilt, r).values()
        }
        for r in runs
    } == history
    rebuilt.catalog.close()
