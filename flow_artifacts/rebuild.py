"""`reindex`: the catalog rebuilt from the store alone, its manifests and its journal.

Runs and step runs are replayed first, so restored artifacts find the step runs that made them;
then every manifest without a tombstone becomes a row with its version, and the version counter
of each name is raised past every deleted version; then tags, label and description updates,
metadata aspects, deletes and step-run inputs are replayed in the order they were made. A
manifest or record that cannot be used is skipped and reported; the rest is restored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .catalog.replay import replay
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


def rebuild(stack: Stack, store: ArtifactStore) -> ReindexReport:
    report = ReindexReport()
    records, problems = store.journal.read()
    report.skipped.extend(problems)
    deleted = {r.fields["artifact_id"]: r for r in records if r.op == "delete"}
    for record in records:
        _replay(stack, record, report, runs=True)
    for tombstone in deleted.values():
        fields = tombstone.fields
        stack.catalog.reserve_version(fields["project"], fields["name"], fields["version"])
    manifests = [m for m in _manifests(store, report) if m.id not in deleted]
    for manifest in manifests:
        try:
            report.added += stack.catalog.restore(manifest, store.url, store.identity)
        except FlowArtifactsError as exc:
            report.skipped.append((manifest.key + MANIFEST_SUFFIX, str(exc)))
    for manifest in manifests:
        stack.catalog.restore_inputs(manifest)
    for record in records:
        _replay(stack, record, report, runs=False)
    return report


def _replay(stack: Stack, record: object, report: ReindexReport, *, runs: bool) -> None:
    problem = replay(stack.catalog, record, runs=runs)  # type: ignore[arg-type]
    if problem is not None:
        report.skipped.append((record.path, problem))  # type: ignore[attr-defined]


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
