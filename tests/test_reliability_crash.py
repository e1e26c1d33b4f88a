"""Writers SIGKILLed at every phase of `materialize`: nothing committed is lost, nothing
inconsistent is visible, and once their leases expire `gc` finds exactly what they left."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import flow_artifacts as fa
from flow_artifacts.maintenance import gc, verify
from flow_artifacts.manifest import MANIFEST_SUFFIX
from flow_artifacts.stores.paths import IDENTITY, JOURNAL_DIR

from . import crash_worker
from .gc_support import expire_leases, kill_when

KILLS = 50
PHASES = ("bytes", "published", "row")


def kill_at(phase: str, store_root: str, catalog_url: str, worker: str) -> list[str]:
    """Run a writer until it announces `phase` (after at least one commit), then SIGKILL it."""
    committed: list[str] = []

    def said(line: str) -> bool:
        if line.startswith("committed:"):
            committed.append(line.split(":", 1)[1].strip())
        return bool(committed) and line.strip() == f"phase:{phase}"

    kill_when([sys.executable, crash_worker.__file__, store_root, catalog_url, worker], said)
    return committed


def store_files(root: str) -> set[str]:
    """Files under a local store root but its identity record and its journal, which gc keeps."""
    found = {str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file()}
    return {f for f in found - {IDENTITY} if not f.startswith(JOURNAL_DIR + "/")}


def test_fifty_kills_lose_nothing_and_gc_collects_exactly_the_orphans(stack, catalog_url):
    root = stack.store.root
    committed: list[str] = []
    for n, phase in zip(range(KILLS), itertools.cycle(PHASES)):
        committed += kill_at(phase, root, catalog_url, f"w{n}")

    # nothing committed is lost, and every row's bytes exist and verify
    catalogued = {a.id for a in fa.list_artifacts("crash", stack=stack)}
    assert set(committed) <= catalogued
    results = list(verify(stack=stack))
    assert results and all(r.ok for r in results), [r.problem for r in results if not r.ok]

    # each writer killed mid-write left its pending-write record (a kill can also land between
    # two writes, after one released its record and before the next recorded itself); once
    # those expire, the orphans are exactly the files that belong to no committed artifact,
    # records included, and nothing is left unaccounted for
    assert 0 < expire_leases(stack.store) <= KILLS
    before = store_files(root)
    kept = set()
    for art in fa.list_artifacts(stack=stack):
        kept.add(art.key + MANIFEST_SUFFIX)
        kept.add(art.manifest.data_path)
    orphans = before - kept
    assert orphans, "fifty kills mid-write should leave some orphans"
    report = gc(dry_run=True, stack=stack)
    assert set(report.paths) == orphans and report.unaccounted == []
    assert store_files(root) == before

    gc(stack=stack)
    assert store_files(root) == kept
    assert all(r.ok for r in verify(stack=stack))
    assert {a.id for a in fa.list_artifacts("crash", stack=stack)} == catalogued
