"""A batch's pending write that lost its lease (cut off from the store for half of it) stays
dead: recording another target of the batch (`claim`, a taken key sending an artifact to
`<key>.v<N>`) must not put its record again, which would revive a write gc may already have
judged dead and let it publish."""

from __future__ import annotations

import time
import types
from pathlib import Path

import fsspec
import pytest

from flow_artifacts.errors import StoreError
from flow_artifacts.stores import leases
from flow_artifacts.stores.leases import PendingWrite, Target
from flow_artifacts.stores.paths import WRITES


def test_a_cut_off_batch_cannot_record_another_target(tmp_path: Path, monkeypatch) -> None:
    root = str(tmp_path)
    batch = PendingWrite(fsspec.filesystem("file"), root, "p/a", "p/a.json", 60.0, "id-a")
    batch.start()
    record = Path(root, WRITES, f"{batch.id}.json")
    before = record.read_bytes()
    try:
        # a minute passes with no renewal (the store unreachable, or the machine asleep)
        later = types.SimpleNamespace(
            monotonic=lambda: time.monotonic() + 60, time=lambda: time.time() + 60
        )
        monkeypatch.setattr(leases, "time", later)
        with pytest.raises(StoreError, match="lost its lease"):
            batch.check()

        with pytest.raises(StoreError, match="lost its lease"):
            batch.claim(Target("p/b.v2", "p/b.v2.json", "id-b"))
        assert record.read_bytes() == before  # not renewed: gc may have judged it dead
        with pytest.raises(StoreError, match="lost its lease"):
            batch.check("p/b.v2")  # it must not publish
    finally:
        batch.end(release=True)
