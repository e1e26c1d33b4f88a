"""Keeping a stack healthy: `gc` of dead writes' leftovers and surplus versions, `verify`.

gc removes a file only when it can prove it is garbage: it lies in this store's artifact space,
no catalog row of this store owns it (as manifest, data, or a file a folder artifact lists), and
the write that made it is dead: its record is gone or its lease expired (`stores/leases.py`).
Files nobody owns and no recorded write made are reported and left alone. A store holding
manifests the catalog does not know (a lost or foreign catalog) makes gc refuse: `reindex` first,
or pass `force` to collect only what is provably garbage anyway.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .errors import ArtifactNotFound, ConfigError, FlowArtifactsError, UnknownArtifacts
from .manifest import MANIFEST_SUFFIX, Manifest
from .stack import Stack, StackLike, resolve_stack
from .stores.leases import WriteRecord
from .stores.paths import TEMPS, reserved
from .stores.store import ArtifactStore

SHOWN = 5


@dataclass
class GcReport:
    """What `gc` found and (unless it was a dry run) removed; paths are store-relative."""

    garbage: list[str] = field(default_factory=list)
    """Files of dead writes and leftovers of deleted artifacts, then the records of those
    writes: exactly what gc removes."""
    uploads: list[str] = field(default_factory=list)
    """Unfinished multipart uploads of dead writes (S3), aborted."""
    surplus: list[Manifest] = field(default_factory=list)
    """Old versions beyond `keep_last`, deleted like `rm`."""
    unaccounted: list[str] = field(default_factory=list)
    """Files no row owns and no recorded write made: gc cannot prove them garbage, so keeps them."""
    unknown_manifests: list[str] = field(default_factory=list)
    """Manifests this catalog does not know (only non-empty when `force` let gc run)."""
    unreadable: list[str] = field(default_factory=list)
    """Write records that could not be read: what they cover is kept."""
    dry_run: bool = True

    @property
    def paths(self) -> list[str]:
        """Every store path gc removes (or, in a dry run, would remove)."""
        return list(self.garbage)


@dataclass
class VerifyResult:
    manifest: Manifest
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def gc(
    *,
    dry_run: bool = False,
    keep_last: int | None = None,
    project: str | None = None,
    force: bool = False,
    stack: StackLike | None = None,
) -> GcReport:
    """Remove what dead writes left (and with `keep_last`, surplus versions) unless `dry_run`.

    Raises `UnknownArtifacts`, before removing anything, when the store holds manifests this
    catalog does not know, unless `force`. Retention never removes a tagged artifact, nor one
    that a kept artifact was produced from.
    """
    if keep_last is not None and keep_last < 1:
        raise ConfigError(f"keep_last must be at least 1, got {keep_last}")
    stack = resolve_stack(stack)
    store = stack.store
    store_id = store.identity
    # The order makes each step's view safe: every upload and file listed was made by a write
    # recorded before it; a write whose record is gone by the next step had ended, and a write
    # that committed before its record went is in the catalog read last.
    uploads = store.uploads()
    files = store.inventory()
    writes, unreadable = store.writes()
    _adopt_legacy_rows(stack, store, files)
    owned = stack.catalog.owned_files(store_id)

    now = datetime.now(timezone.utc)
    live = [w for w in writes.values() if not w.expired(now)]
    dead = [w for w in writes.values() if w.expired(now)]
    unjudged = {posixpath.basename(rel).removesuffix(".json") for rel in unreadable}
    report = GcReport(dry_run=dry_run, unreadable=unreadable)
    for rel in sorted(files):
        if rel in owned or _covered(rel, live):
            continue
        if reserved(rel):
            write_id = _temp_of(rel)
            if write_id and write_id not in unjudged and not any(w.id == write_id for w in live):
                report.garbage.append(rel)  # a temporary of a write that ended or died
        elif _covered(rel, dead):
            report.garbage.append(rel)
        else:
            report.unaccounted.append(rel)
            if rel.endswith(MANIFEST_SUFFIX):
                report.unknown_manifests.append(rel)
    if report.unknown_manifests:
        _deleted_leftovers(store, report, files, owned, live)
    report.garbage += [w.record for w in dead if w.record in files]
    report.uploads = [rel for rel, _ in uploads if _dead_upload(rel, live, dead, unjudged)]
    if report.unknown_manifests and not force:
        raise UnknownArtifacts(_refusal(report.unknown_manifests))
    if keep_last is not None:
        report.surplus = _surplus(stack, keep_last, project)
    if not dry_run:
        for rel, upload in uploads:
            if rel in report.uploads:
                store.abort_upload(upload)
        store.remove_paths(report.garbage)  # each write's record last, so a failure retries
        if report.surplus:
            from .manage import delete

            for manifest in report.surplus:
                delete(manifest.id, force=True, stack=stack)
    return report


def verify(
    refs: list[Any] | None = None, *, stack: StackLike | None = None
) -> Iterator[VerifyResult]:
    """Re-hash the stored bytes of the given artifacts (default: all in the catalog)."""
    stack = resolve_stack(stack)
    if refs is None:
        manifests: Iterator[Manifest] = stack.catalog.iter_artifacts(page_size=500)
    else:
        from .api import resolve

        manifests = (resolve(ref, stack).manifest for ref in refs)
    for manifest in manifests:
        try:
            stack.store.verify(manifest)
        except (FlowArtifactsError, ArtifactNotFound) as exc:
            yield VerifyResult(manifest, str(exc))
        else:
            yield VerifyResult(manifest)


def _surplus(stack: Stack, keep_last: int, project: str | None) -> list[Manifest]:
    """Versions beyond `keep_last` that gc may delete: kept are the newest `keep_last` of each
    name (in every project: lineage may cross projects) and every tagged version, and nothing
    any kept artifact was produced from, at any depth, is surplus."""
    candidates = stack.catalog.surplus_versions(keep_last, project)
    candidate_ids = {m.id for m in candidates}
    tagged = stack.catalog.tagged_ids()
    kept = {m.id for m in stack.catalog.iter_artifacts(page_size=1000) if m.id not in candidate_ids}
    kept |= tagged
    protected = kept | stack.catalog.upstream_closure(kept)
    return [m for m in candidates if m.id not in protected]


def _deleted_leftovers(
    store: ArtifactStore,
    report: GcReport,
    files: dict[str, Any],
    owned: set[str],
    live: list[WriteRecord],
) -> None:
    """Move the files of deleted artifacts from `report.unknown_manifests` and `unaccounted`
    to `garbage`, when every unknown manifest is one of a deleted artifact.

    A delete whose record was journaled but whose transaction was killed before COMMIT leaves
    the row (the catalog wins: gc then removes the delete's dead lease record, the row owns the
    files). If that catalog is later lost, `reindex` follows the tombstone, and the files are
    left with no row and no write record. The store itself says they are garbage: the journal
    holds a tombstone naming the manifest's artifact, project, name and version, so no reindex
    restores it. gc takes them only when this catalog knows every other manifest in the store
    (it is this store's catalog, not a lost or foreign one; else they stay unknown).
    """
    records, _ = store.journal.read()
    tombstones = {
        r.fields["artifact_id"]: (r.fields["project"], r.fields["name"], r.fields["version"])
        for r in records
        if r.op == "delete"
    }
    deleted, others = [], []
    for rel in report.unknown_manifests:
        try:
            manifest = store.get_manifest(rel.removesuffix(MANIFEST_SUFFIX))
        except (FlowArtifactsError, ArtifactNotFound):
            others.append(rel)  # perhaps a file inside a deleted folder artifact (below)
            continue
        claim = (manifest.project, manifest.name, manifest.version)
        if tombstones.get(manifest.id) == claim:
            deleted.append(manifest)
        else:
            others.append(rel)
    data = {
        f
        for m in deleted
        for f in files
        if (f == m.data_path or f.startswith(m.data_path + "/"))
        and f not in owned
        and not _covered(f, live)
    }
    if any(rel not in data for rel in others):
        return  # a manifest gc cannot place: this catalog may be lost or foreign
    gone = data | {m.key + MANIFEST_SUFFIX for m in deleted}
    report.garbage = sorted({*report.garbage, *gone})
    report.unaccounted = [rel for rel in report.unaccounted if rel not in gone]
    report.unknown_manifests = []


def _covered(rel: str, writes: list[WriteRecord]) -> bool:
    return any(w.covers(rel) for w in writes)


def _temp_of(rel: str) -> str | None:
    """The write id of a temporary (`.flow-artifacts/tmp/<id>/...` or `.flow-artifacts/tmp/<id>-
    <name>`), None for other records."""
    if not rel.startswith(TEMPS + "/"):
        return None
    return rel[len(TEMPS) + 1 :].split("/", 1)[0].split("-", 1)[0] or None


def _dead_upload(
    rel: str, live: list[WriteRecord], dead: list[WriteRecord], unjudged: set[str]
) -> bool:
    if _covered(rel, live):
        return False
    write_id = _temp_of(rel)
    if write_id:
        return write_id not in unjudged
    return _covered(rel, dead)


def _adopt_legacy_rows(stack: Stack, store: ArtifactStore, files: dict[str, Any]) -> None:
    """Rows from before store ids take this store's id when their own manifest is here."""
    mine = []
    for artifact_id, key in stack.catalog.legacy_rows():
        if key + MANIFEST_SUFFIX not in files:
            continue
        try:
            if store.get_manifest(key).id == artifact_id:
                mine.append(artifact_id)
        except (FlowArtifactsError, ArtifactNotFound):
            continue
    if mine:
        stack.catalog.adopt_rows(mine, store.identity)


def _refusal(unknown: list[str]) -> str:
    shown = ", ".join(unknown[:SHOWN]) + (" ..." if len(unknown) > SHOWN else "")
    return (
        f"gc refused: the store holds {len(unknown)} artifact manifest(s) this catalog does not "
        f"know ({shown}). The catalog may be lost or another catalog may share the store. Run "
        "`flow-artifacts reindex` to catalog them, or pass --force (force=True) to collect "
        "only what dead writes left and keep everything else."
    )
