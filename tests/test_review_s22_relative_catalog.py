"""A stack built in code with a relative SQLite catalog path, handed to other processes
(`fa.RunTicket`, `fa.StackSpec`): a worker in another working folder records into the run's
catalog, not into a new empty one of its own, as it already writes into the run's store."""

from __future__ import annotations

from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog


def test_a_ticket_of_a_relative_sqlite_catalog_joins_it_from_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver, worker = tmp_path / "driver", tmp_path / "worker"
    driver.mkdir()
    worker.mkdir()
    monkeypatch.chdir(driver)
    stack = fa.Stack(store=fa.ArtifactStore("artifacts"), catalog=Catalog("sqlite:///cat.db"))
    with fa.run(project="p", stack=stack) as run:
        ticket = fa.RunTicket.of(run)
        monkeypatch.chdir(worker)  # a Dask, Ray or spawned worker's own working folder
        opened = ticket.stack.open()
        try:
            assert opened.catalog.run("p", run.id) is not None
            assert Path(opened.store.root) == driver / "artifacts"
        finally:
            opened.close()
    assert not (worker / "cat.db").exists()
    stack.close()
