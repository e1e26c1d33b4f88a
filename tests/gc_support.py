"""Helpers for the gc tests: making a dead writer's lease expire, as time passing would."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import flow_artifacts as fa
from flow_artifacts.stores.paths import WRITES


def expire_leases(store: fa.ArtifactStore) -> int:
    """Age every pending-write record by a day: what an hour without renewal does to the record
    of a writer that is gone. Call it only when no live writer holds one. Returns the count."""
    base = f"{store.root}/{WRITES}"
    paths = store.fs.find(base) if store.fs.exists(base) else []
    for path in paths:
        record = json.loads(store.fs.cat_file(path))
        renewed = datetime.fromisoformat(record["renewed"]) - timedelta(days=1)
        record["renewed"] = renewed.isoformat()
        store.fs.pipe_file(path, json.dumps(record).encode())
    return len(paths)


def dead_write(store: fa.ArtifactStore, key: str, data_path: str) -> str:
    """The record a writer killed an hour ago leaves for `key`; returns its store path."""
    write_id = "0" * 32
    record = {
        "id": write_id, "key": key, "data_path": data_path,
        "renewed": (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(),
        "lease_seconds": 60, "host": "gone", "pid": 1,
    }  # fmt: skip
    rel = f"{WRITES}/{write_id}.json"
    store.fs.makedirs(f"{store.root}/{WRITES}", exist_ok=True)
    store.fs.pipe_file(f"{store.root}/{rel}", json.dumps(record).encode())
    return rel
