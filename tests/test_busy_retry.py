"""A catalog write retried because the database was busy publishes each manifest once.

The manifest is published inside the transaction, before its row is inserted. When the database
reports itself busy after that (a PostgreSQL deadlock, a locked SQLite file), the transaction
rolls back and is tried again: the retry must neither fail on the manifest its own earlier attempt
published nor leave one that disagrees with the row it commits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

import flow_artifacts as fa
from flow_artifacts.catalog import recording


def busy_once(monkeypatch: pytest.MonkeyPatch, after: int = 1) -> dict[str, int]:
    """The database answers `database is locked` to the `after`-th artifact insert, once."""
    real = recording.insert_artifact
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == after:
            raise OperationalError("INSERT INTO fa_artifacts", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(recording, "insert_artifact", flaky)
    return calls


def manifests(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.artifact.json") if ".flow-artifacts" not in p.parts)


def test_a_busy_retry_after_publishing_commits_the_artifact_once(tmp_path, monkeypatch):
    stack = fa.Stack.local(tmp_path / "fa")
    calls = busy_once(monkeypatch)
    art = fa.materialize({"acc": 0.9}, "report", "r1", "eval", "demo", stack=stack)
    assert calls["n"] == 2  # the first attempt failed after publishing; the retry committed
    assert art.key == "demo/r1/eval/report"  # not rewritten at a versioned key
    assert art.version == 1 and fa.load("demo/report", stack=stack) == {"acc": 0.9}
    (published,) = manifests(tmp_path / "fa")
    assert f'"{art.id}"' in published.read_text()
    art.verify()  # read by its row: the bytes match the checksum it records


def test_a_busy_retry_of_a_batch_commits_every_artifact_once(tmp_path, monkeypatch):
    stack = fa.Stack.local(tmp_path / "fa")
    busy_once(monkeypatch, after=2)  # the second artifact's insert: the first was published
    arts = fa.materialize_many(
        {"a": {"n": 1}, "b": {"n": 2}}, run_id="r1", step_name="s", project="demo", stack=stack
    )
    assert [a.version for a in arts.values()] == [1, 1]
    assert [a.key for a in arts.values()] == ["demo/r1/s/a", "demo/r1/s/b"]
    assert len(manifests(tmp_path / "fa")) == 2
    assert fa.load("demo/b", stack=stack) == {"n": 2}
