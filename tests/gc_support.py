"""Helpers for the gc tests: killing a writer mid-write, and making its lease expire as time
passing would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
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


def kill_when(
    command: Sequence[str], said: Callable[[str], bool], env: Mapping[str, str] | None = None
) -> None:
    """Run `command` and SIGKILL it at the first line it prints for which `said` is true; fail
    unless that kill is how it ended."""
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if said(line):
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()  # type: ignore[union-attr]
