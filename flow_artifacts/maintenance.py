"""Keeping a stack healthy: `gc` of orphans and surplus versions, `verify` of stored bytes.

Orphans are what an interrupted write leaves: bytes without a manifest, a manifest without a
catalog row, a hidden temporary file. Anything younger than `grace` is left alone, because it may
belong to a write still in flight in another process.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .catalog.inventory import committed_paths, surplus_versions, tagged_ids, upstream_closure
from .errors import ArtifactNotFound, ConfigError, FlowArtifactsError
from .manifest import MANIFEST_SUFFIX, Manifest
from .stack import Stack, get_stack
from .store import TEMP_PREFIX
from .stores.paths import JOURNAL_DIR

DEFAULT_GRACE = timedelta(minutes=15)


@dataclass
class GcReport:
    """What `gc` found (and, unless it was a dry run, removed), as store-relative paths."""

    orphan_manifests: list[str] = field(default_factory=list)
    orphan_data: list[str] = field(default_factory=list)
    expired_temporaries: list[str] = field(default_factory=list)
    surplus: list[Manifest] = field(default_factory=list)
    dry_run: bool = True

    @property
    def paths(self) -> list[str]:
        return sorted(self.orphan_manifests + self.orphan_data + self.expired_temporaries)


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
    grace: timedelta = DEFAULT_GRACE,
    project: str | None = None,
    stack: Stack | None = None,
) -> GcReport:
    """Find orphans (and with `keep_last`, surplus versions) and remove them unless `dry_run`.

    Retention never removes a tagged artifact, nor one that a kept artifact was produced from.
    """
    if keep_last is not None and keep_last < 1:
        raise ConfigError(f"keep_last must be at least 1, got {keep_last}")
    stack = stack or get_stack()
    store = stack.store
    report = GcReport(dry_run=dry_run)
    cutoff = datetime.now(timezone.utc) - grace
    committed = committed_paths(stack.catalog, store.url)
    owned = set(committed.values())
    files = store.inventory()
    orphan_keys = []
    for rel, modified in files.items():
        if (modified is not None and modified > cutoff) or rel.startswith(JOURNAL_DIR + "/"):
            continue  # young, or the journal, which reindex needs whole
        name = posixpath.basename(rel)
        if name.startswith(TEMP_PREFIX) or _inside_temp(rel):
            report.expired_temporaries.append(rel)
        elif rel.endswith(MANIFEST_SUFFIX):
            key = rel[: -len(MANIFEST_SUFFIX)]
            if key not in committed:
                report.orphan_manifests.append(rel)
                orphan_keys.append(key)
        elif not _owned(rel, owned):
            report.orphan_data.append(rel)
    if keep_last is not None:
        report.surplus = _surplus(stack, keep_last, project)
    if not dry_run:
        store.remove_paths(report.paths)
        if report.surplus:
            from .manage import delete

            for manifest in report.surplus:
                delete(manifest.id, force=True, stack=stack)
    return report


def verify(refs: list[Any] | None = None, *, stack: Stack | None = None) -> Iterator[VerifyResult]:
    """Re-hash the stored bytes of the given artifacts (default: all in the catalog)."""
    stack = stack or get_stack()
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
    candidates = surplus_versions(stack.catalog, keep_last, project)
    candidate_ids = {m.id for m in candidates}
    protected = tagged_ids(stack.catalog)
    kept = [
        m.id
        for m in stack.catalog.iter_artifacts(page_size=1000, project=project)
        if m.id not in candidate_ids
    ]
    protected |= upstream_closure(stack.catalog, kept)
    return [m for m in candidates if m.id not in protected]


def _owned(rel: str, owned: set[str]) -> bool:
    """Whether `rel` is a committed artifact's file, or a file inside a directory artifact."""
    path = rel
    while path:
        if path in owned:
            return True
        path = posixpath.dirname(path)
    return False


def _inside_temp(rel: str) -> bool:
    return any(part.startswith(TEMP_PREFIX) for part in rel.split("/")[:-1])
