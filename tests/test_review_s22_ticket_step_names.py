"""Processes that joined one run through `fa.RunTicket` and start step runs of the same name:
the second gets a clear error naming the taken name (not the database's unique violation with
its SQL), and the catalog and what the store rebuilds keep the first."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog


@pytest.fixture(name="file_stack")
def file_stack_fixture(tmp_path: Path, catalog_url: str) -> Iterator[fa.Stack]:
    """A stack file (a PostgreSQL URL names a user: a stack built in code would not travel)."""
    path = tmp_path / "stack.yaml"
    path.write_text(
        f"artifact_store: {{url: '{tmp_path / 'store'}'}}\ncatalog: {{url: '{catalog_url}'}}\n"
    )
    stack = fa.Stack.from_yaml(path)
    yield stack
    stack.close()


def test_a_step_name_another_joined_process_took_is_a_clear_error(file_stack: fa.Stack) -> None:
    stack = file_stack
    with fa.run(project="demo", stack=stack) as run:
        ticket = fa.RunTicket.of(run)
        first, second = (pickle.loads(pickle.dumps(ticket)).join() for _ in range(2))
        step = first.start_step("partition", params={"part": 1})
        first.save_output(step, {"rows": 1}, "part")
        first.finish_step(step)
        with pytest.raises(fa.ConfigError, match="partition") as taken:
            second.start_step("partition", params={"part": 2})
        message = str(taken.value)
        assert "INSERT" not in message and "UNIQUE" not in message.upper()
        assert "already" in message
        other = second.start_step("partition_2", params={"part": 2})  # a name of its own works
        second.finish_step(other)
    steps = {s.step: s for s in stack.catalog.step_runs_of_run("demo", run.id)}
    assert {n: (s.status, s.params) for n, s in steps.items()} == {
        "partition": ("completed", {"part": 1}),
        "partition_2": ("completed", {"part": 2}),
    }
    rebuilt = fa.Stack(store=stack.store, catalog=Catalog(f"sqlite:///{stack.store.root}.db"))
    assert fa.reindex(stack=rebuilt).skipped == []
    again = {s.step: s.id for s in rebuilt.catalog.step_runs_of_run("demo", run.id)}
    assert again == {n: s.id for n, s in steps.items()}
    rebuilt.catalog.close()
