"""`fa.RunTicket`: a run handed to other processes, which record their step runs into it."""

from __future__ import annotations

import multiprocessing
import pickle

import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.steps.stack_spec import worker_stack


def _work_in_a_fork(ticket: fa.RunTicket, parents_stack_id: int, done) -> None:
    """In a forked worker: join the run, record a node with an output, report what it used."""
    run = ticket.join()
    step = run.start_step("partition", params={"part": 2})
    run.save_output(step, {"rows": 2}, "part")
    run.finish_step(step)
    done.put((id(run.stack) != parents_stack_id, run.status))


def test_a_forked_process_joins_the_run_on_a_stack_of_its_own(local_stack):
    with fa.Run(project="demo", pipeline="nightly") as run:
        ticket = pickle.loads(pickle.dumps(fa.RunTicket.of(run)))  # as it travels
        parents = worker_stack(ticket.stack)  # this process opened the ticket's stack too
        context = multiprocessing.get_context("fork")
        done = context.Queue()
        worker = context.Process(target=_work_in_a_fork, args=(ticket, id(parents), done))
        worker.start()
        own_stack, status = done.get(timeout=120)
        worker.join(timeout=120)
        assert worker.exitcode == 0
        assert own_stack  # never the connections it inherited
        assert status == "running"  # joined: neither started nor finished there
    (record,) = local_stack.catalog.runs("demo")
    assert (record.run_id, record.status, record.pipeline) == (run.id, "completed", "nightly")
    (step,) = local_stack.catalog.step_runs_of_run("demo", run.id)
    assert (step.step, step.status, step.params) == ("partition", "completed", {"part": 2})
    part = fa.get_artifact("store://demo/part")
    assert (part.run_id, part.step, part.load()) == (run.id, "partition", {"rows": 2})
    assert step.outputs == [part.id]


def test_a_ticket_is_refused_for_a_run_not_recording_or_a_stack_others_cannot_open(tmp_path):
    pending = fa.Run(project="demo", stack=fa.Stack.local(tmp_path / "fa"))
    with pytest.raises(fa.FlowArtifactsError, match="not recording"):
        fa.RunTicket.of(pending)
    in_memory = fa.Stack(
        store=fa.ArtifactStore("memory://ticket"), catalog=Catalog(f"sqlite:///{tmp_path}/c.db")
    )
    with fa.run(project="demo", stack=in_memory) as run:
        with pytest.raises(fa.ConfigError, match="memory://"):
            fa.RunTicket.of(run)
    secret = fa.Stack(
        store=fa.ArtifactStore(tmp_path / "store"),
        catalog=Catalog(f"sqlite:///{tmp_path}/d.db"),
        secrets=("hunter2hunter2",),
    )
    with fa.run(project="demo", stack=secret) as run:
        with pytest.raises(fa.ConfigError, match="never travel") as refused:
            fa.RunTicket.of(run)
    assert "hunter2" not in str(refused.value)
    for stack in (in_memory, secret):
        stack.close()
