"""A dead write of a key frees that key only of what it may have made: a file at the key's
other data path (another extension), which no recorded write accounts for, is kept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import flow_artifacts as fa
from flow_artifacts.maintenance import gc
from flow_artifacts.stores.leases import WriteRecord
from flow_artifacts.stores.paths import WRITES


def test_a_dead_write_of_a_key_never_costs_a_file_it_did_not_make(tmp_path: Path) -> None:
    stack = fa.Stack.local(tmp_path / "fa")
    fa.materialize({"warm": 1}, "warm", "r0", "s", "demo", stack=stack)
    root = Path(stack.store.root)
    # a writer of a pickle at the key, killed long ago: its record is left, expired
    dead = WriteRecord(
        id="0" * 32, key="demo/r1/s/report", data_path="demo/r1/s/report.pkl",
        renewed=datetime.now(timezone.utc) - timedelta(days=1), lease_seconds=60.0,
        host="elsewhere", pid=1, artifact_id="dead-artifact",
    )  # fmt: skip
    (root / WRITES / f"{dead.id}.json").write_bytes(dead.to_json())
    # a file someone put at the key's JSON data path: no recorded write accounts for it
    theirs = root / "demo" / "r1" / "s" / "report.json"
    theirs.parent.mkdir(parents=True)
    theirs.write_text('{"theirs": true}')

    art = fa.materialize({"v": 1}, "report", "r1", "s", "demo", stack=stack)
    assert theirs.read_text() == '{"theirs": true}'
    assert art.key != "demo/r1/s/report"  # the key was taken: the write went past it
    assert fa.load(art, stack=stack) == {"v": 1}
    stack.close()


def test_clearing_a_key_keeps_the_record_of_a_dead_write_that_made_other_files(
    tmp_path: Path,
) -> None:
    stack = fa.Stack.local(tmp_path / "fa")
    fa.materialize({"warm": 1}, "warm", "r0", "s", "demo", stack=stack)
    root = Path(stack.store.root)
    long_ago = datetime.now(timezone.utc) - timedelta(days=1)
    for n, extension in ((1, ".json"), (2, ".pkl")):  # two killed writers of the key
        dead = WriteRecord(
            id=str(n) * 32, key="demo/r1/s/report", data_path=f"demo/r1/s/report{extension}",
            renewed=long_ago, lease_seconds=60.0, host="elsewhere", pid=1, artifact_id=f"a{n}",
        )  # fmt: skip
        (root / WRITES / f"{dead.id}.json").write_bytes(dead.to_json())
        left = root / "demo" / "r1" / "s" / f"report{extension}"
        left.parent.mkdir(parents=True, exist_ok=True)
        left.write_bytes(b"partial")

    art = fa.materialize({"v": 1}, "report", "r1", "s", "demo", stack=stack)
    assert art.key == "demo/r1/s/report"  # the JSON writer's leftovers no longer block it
    assert fa.load(art, stack=stack) == {"v": 1}
    # the pickle writer's leftovers stay accounted for, so gc removes them
    assert (root / WRITES / f"{'2' * 32}.json").exists()
    assert "demo/r1/s/report.pkl" in gc(stack=stack).paths
    assert not (root / "demo" / "r1" / "s" / "report.pkl").exists()
    stack.close()
