"""A large batch's one pending-write record (`materialize_many` of thousands): it names every
target before the first byte, in order, and a taken key's target is replaced by its versioned
one in place of it, never added twice nor lost; what the batch moved into place is no
temporary of it any more, so ending it removes nothing it published."""

from __future__ import annotations

import json
from pathlib import Path

import fsspec

import flow_artifacts as fa
from flow_artifacts.stores.leases import PendingWrite, Target
from flow_artifacts.stores.paths import TEMPS, WRITES

N = 2000


def recorded(root: str, batch: PendingWrite) -> list[tuple[str, str, str]]:
    doc = json.loads(Path(root, WRITES, f"{batch.id}.json").read_bytes())
    first = (doc["key"], doc["data_path"], doc["artifact_id"])
    return [first] + [(t["key"], t["data_path"], t["artifact_id"]) for t in doc["more"]]


def test_a_batch_of_2000_records_every_target_and_each_replacement_once(tmp_path: Path) -> None:
    root = str(tmp_path)
    targets = [Target(f"p/r{i}", f"p/r{i}.json", f"id-{i}") for i in range(N)]
    first, *more = targets
    batch = PendingWrite(fsspec.filesystem("file"), root, *first[:2], 60.0, first[2])
    batch.targets.update(dict.fromkeys(more))
    batch.start()
    try:
        assert recorded(root, batch) == [tuple(t) for t in targets]

        for target in targets:  # each write of the batch claims its own: nothing to put
            batch.claim(target)
        assert recorded(root, batch) == [tuple(t) for t in targets]

        # keys 7 and 1500 were taken: their artifacts go to <key>.v2, recorded in their place
        moved = {i: Target(f"p/r{i}.v2", f"p/r{i}.v2.json", f"id-{i}") for i in (7, 1500)}
        for i, versioned in moved.items():
            batch.claim(versioned, replacing=targets[i])
            batch.claim(versioned, replacing=targets[i])  # a retry of the same: still once
        expected = [t for i, t in enumerate(targets) if i not in moved] + list(moved.values())
        assert recorded(root, batch) == [tuple(t) for t in expected]
        assert len(batch.targets) == N
    finally:
        batch.end(release=True)
    assert not Path(root, WRITES, f"{batch.id}.json").exists()


def test_a_batch_of_2000_temporaries_forgets_exactly_those_moved_into_place(
    tmp_path: Path,
) -> None:
    batch = PendingWrite(fsspec.filesystem("file"), str(tmp_path), "p/a", "p/a.json", 60.0)
    temps = [batch.temp_file(f"data{i}.json") for i in range(N)]
    assert len(set(temps)) == N
    for temp in temps[::2]:
        batch.moved(temp)
    batch.moved(temps[0])  # moved twice (a retried move): nothing changes
    assert list(batch.temps) == temps[1::2]  # in the order handed out, for the removal at end


def test_materialize_many_of_2000_reports_commits_them_all_and_leaves_no_write(
    tmp_path: Path,
) -> None:
    stack = fa.Stack.local(tmp_path / "fa")
    fa.materialize({"taken": True}, "r3", "run", "step", "demo", stack=stack)
    reports = {f"r{i}": {"item": i} for i in range(N)}
    fa.materialize_many(reports, run_id="run", step_name="step", project="demo", stack=stack)
    listed = list(fa.list_artifacts("demo", stack=stack))
    assert len(listed) == N + 1 and {a.name for a in listed} == set(reports)
    r3 = {a.version: a.load() for a in listed if a.name == "r3"}
    assert r3 == {1: {"taken": True}, 2: {"item": 3}}  # the taken key's went to its next version
    root = Path(stack.store.root)
    assert list(root.joinpath(WRITES).iterdir()) == []  # the batch's record went at its end
    temps = root / TEMPS
    assert not temps.exists() or not any(temps.iterdir())  # every byte moved into place
