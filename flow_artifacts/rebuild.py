"""`reindex`: the catalog rebuilt from the store alone, its manifests and its journal.

Runs and step runs are replayed first, so restored artifacts find the step runs that made them;
then tombstones are settled (`replay.bury`): a manifest whose tombstone names its project, name
and version is not restored, and deleted versions stay reserved; then every other manifest the
catalog does not hold becomes a row with its version (its bytes not to be unpickled until
someone trusts them, `trust_pickles`); then tags, label and description updates,
metadata aspects and step-run inputs are replayed in stamp order. Records only add to what the
catalog held before (see `catalog/replay.py`). A manifest or record that cannot be used is
skipped and reported; the rest is restored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from .catalog.replay import Scope, bury, claim_names, replay
from .errors import FlowArtifactsError, IntegrityError
from .limits import check_row_fits
from .manifest import MANIFEST_SUFFIX, Manifest
from .stack import Stack
from .stores.store import ArtifactStore


@dataclass
class ReindexReport:
    """What `reindex` did: rows added, and what it skipped (store path, why)."""

    added: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.skipped


def rebuild(stack: Stack, store: ArtifactStore, *, trust_pickles: bool = False) -> ReindexReport:
    report = ReindexReport()
    catalog, scope = stack.catalog, Scope()
    records, problems = store.journal.read()
    report.skipped.extend(problems)
    for record in records:
        _note(report, record.path, replay(catalog, record, scope, runs=True))
    manifests = {m.id: m for m in _manifests(store, report)}
    for record in records:
        if record.op == "delete":
            found = manifests.get(record.fields["artifact_id"])
            problem = bury(catalog, record, found, scope)
            _note(report, record.path, problem)
            if problem is None and found is not None:
                del manifests[found.id]  # an interrupted rm stays deleted
    claim_names(catalog, {(m.project, m.name) for m in manifests.values()}, scope)
    restored = []
    for manifest in manifests.values():
        try:
            if catalog.restore(manifest, store.url, store.identity, trust_pickles=trust_pickles):
                restored.append(manifest)
                scope.artifacts.add(manifest.id)
        except (FlowArtifactsError, SQLAlchemyError) as exc:
            report.skipped.append((manifest.key + MANIFEST_SUFFIX, _reason(exc)))
    report.added = len(restored)
    for manifest in restored:
        try:
            catalog.restore_inputs(manifest)
        except (FlowArtifactsError, SQLAlchemyError) as exc:
            report.skipped.append((manifest.key + MANIFEST_SUFFIX, _reason(exc)))
    for record in records:
        _note(report, record.path, replay(catalog, record, scope, runs=False))
    return report


def _note(report: ReindexReport, path: str, problem: str | None) -> None:
    if problem is not None:
        report.skipped.append((path, problem))


def _reason(exc: Exception) -> str:
    """The first line of what went wrong, without the SQL or parameters of a database error."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _manifests(store: ArtifactStore, report: ReindexReport) -> list[Manifest]:
    """The usable manifests in the store, oldest first; the others reported."""
    found: dict[str, Manifest] = {}
    for key in store.list_artifacts():
        path = key + MANIFEST_SUFFIX
        try:
            manifest = store.get_manifest(key)
            if manifest.key != key:
                raise IntegrityError(f"it names the key {manifest.key!r:.80}, not its own")
            version = manifest.version
            if version is not None and (not isinstance(version, int) or version < 1):
                raise IntegrityError(f"its version {version!r:.20} is not a positive integer")
            check_row_fits(manifest)
        except FlowArtifactsError as exc:
            report.skipped.append((path, str(exc)))
            continue
        if manifest.id in found:
            report.skipped.append((path, f"artifact id {manifest.id} is also at another key"))
            continue
        found[manifest.id] = manifest
    return sorted(found.values(), key=lambda m: (m.created, m.key))
