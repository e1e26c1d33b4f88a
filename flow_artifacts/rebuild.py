"""`reindex`: the catalog rebuilt from the store alone, its manifests and its journal.

Runs and step runs are replayed first, so restored artifacts find the step runs that made them;
then tombstones are settled (`replay.bury`): a manifest whose tombstone names its project, name
and version is not restored, and deleted versions stay reserved; then every other manifest the
catalog does not hold becomes a row with its version, unless its write is unconfirmed (a
restored row's bytes are not unpickled until someone trusts them, `trust_pickles`); then tags,
label and description updates, metadata aspects and step-run inputs are replayed in stamp order.
Records only add to what the catalog held before (see `catalog/replay.py`). A manifest or record
that cannot be used is skipped and reported; the rest is restored.

A write confirms its commit by releasing its pending-write record after COMMIT
(`stores/leases.py`). A manifest whose write's record is still in the store is in doubt: the
writer may have died before COMMIT (the version in that manifest may then have gone to another
write since), so it is not restored, and gc removes it once the lease expired. The one case this
loses a commit: a writer killed between COMMIT and release, and the catalog lost before a gc
(which, with the catalog, confirms the write: the row owns its files, the record goes).

The whole reindex is one catalog transaction: interrupted, it leaves the catalog as it was, and
run again it gives what one run gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from .catalog.replay import Scope, bury, claim_names, held, replay
from .errors import FlowArtifactsError, IntegrityError
from .journal import JournalRecord
from .limits import check_row_fits
from .manifest import MANIFEST_SUFFIX, Manifest
from .stack import Stack
from .stores.leases import WriteRecord
from .stores.store import ArtifactStore

UNCONFIRMED = (
    "not restored: its writer died before confirming the commit (its pending-write record is "
    "still in the store); gc removes it once its lease expired"
)
IN_FLIGHT = (
    "not restored: its write is still in progress (its pending-write lease is live); run "
    "reindex again after it ended"
)


@dataclass
class ReindexReport:
    """What `reindex` did: rows added, and what it skipped (store path, why)."""

    added: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.skipped


def rebuild(stack: Stack, store: ArtifactStore, *, trust_pickles: bool = False) -> ReindexReport:
    problems: list[tuple[str, str]] = []
    records, unreadable = store.journal.read()
    problems.extend(unreadable)
    candidates = _read_manifests(store)
    # read after the manifests: a write that published one and then confirmed its commit
    # (released its record) in between is in the catalog, so it is restored or already held
    writes, _ = store.writes()
    found = _usable(candidates, writes, problems)
    unconfirmed = {
        target.artifact_id: (write, target.key)
        for write in writes.values()
        for target in write.targets
        if target.artifact_id is not None
    }  # a batch's one record names each of its artifacts
    now = datetime.now(timezone.utc)

    def work(conn: Connection) -> ReindexReport:
        report = ReindexReport(skipped=list(problems))
        _apply(conn, stack, store, records, found, unconfirmed, now, report, trust_pickles)
        return report

    return stack.catalog.reindex_transaction(work)


def _apply(
    conn: Connection,
    stack: Stack,
    store: ArtifactStore,
    records: list[JournalRecord],
    found: list[Manifest],
    unconfirmed: dict[str, tuple[WriteRecord, str]],
    now: datetime,
    report: ReindexReport,
    trust_pickles: bool,
) -> None:
    catalog, scope = stack.catalog, Scope()
    for record in records:
        _note(report, record.path, replay(conn, record, scope, runs=True))
    manifests = {m.id: m for m in found}
    for record in records:
        if record.op == "delete":
            buried = manifests.get(record.fields["artifact_id"])
            problem = bury(conn, record, buried, scope)
            _note(report, record.path, problem)
            if problem is None and buried is not None:
                del manifests[buried.id]  # an interrupted rm stays deleted
    for manifest in list(manifests.values()):
        write, key = unconfirmed.get(manifest.id, (None, None))
        if write is None or key != manifest.key:
            continue
        del manifests[manifest.id]
        if not held(conn, manifest.id):  # a row the catalog holds confirms the commit
            reason = UNCONFIRMED if write.expired(now) else IN_FLIGHT
            report.skipped.append((manifest.key + MANIFEST_SUFFIX, reason))
    claim_names(conn, {(m.project, m.name) for m in manifests.values()}, scope)
    restored = []
    for manifest in manifests.values():
        try:
            with conn.begin_nested():  # a restore that fails is rolled back alone
                if catalog.restore(
                    conn, manifest, store.url, store.identity, trust_pickles=trust_pickles
                ):
                    restored.append(manifest)
                    scope.artifacts.add(manifest.id)
        except (FlowArtifactsError, SQLAlchemyError) as exc:
            report.skipped.append((manifest.key + MANIFEST_SUFFIX, _reason(exc)))
    report.added = len(restored)
    for manifest in restored:
        try:
            with conn.begin_nested():
                catalog.restore_inputs(conn, manifest)
        except (FlowArtifactsError, SQLAlchemyError) as exc:
            report.skipped.append((manifest.key + MANIFEST_SUFFIX, _reason(exc)))
    for record in records:
        _note(report, record.path, replay(conn, record, scope, runs=False))


def _note(report: ReindexReport, path: str, problem: str | None) -> None:
    if problem is not None:
        report.skipped.append((path, problem))


def _reason(exc: Exception) -> str:
    """The first line of what went wrong, without the SQL or parameters of a database error."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _read_manifests(store: ArtifactStore) -> list[tuple[str, Manifest | str]]:
    """Each `*.artifact.json` in the store: its path and its checked manifest, or the problem."""
    read: list[tuple[str, Manifest | str]] = []
    for key in store.list_artifacts():
        try:
            manifest = store.get_manifest(key)
            if manifest.key != key:
                raise IntegrityError(f"it names the key {manifest.key!r:.80}, not its own")
            version = manifest.version
            if version is not None and (not isinstance(version, int) or version < 1):
                raise IntegrityError(f"its version {version!r:.20} is not a positive integer")
            check_row_fits(manifest)
        except FlowArtifactsError as exc:
            read.append((key + MANIFEST_SUFFIX, str(exc)))
        else:
            read.append((key + MANIFEST_SUFFIX, manifest))
    return read


def _usable(
    read: list[tuple[str, Manifest | str]],
    writes: dict[str, WriteRecord],
    problems: list[tuple[str, str]],
) -> list[Manifest]:
    """The usable manifests, oldest first; the others reported. A file that a folder artifact's
    manifest lists, or that lies inside the data path of a recorded write (a folder upload or
    delete in progress or killed), is data whatever its name, never a manifest."""
    members = {
        f"{m.data_path}/{rel}"
        for _, m in read
        if isinstance(m, Manifest) and m.directory
        for rel in m.files
    }
    folders = [target.data_path + "/" for w in writes.values() for target in w.targets]
    found: dict[str, Manifest] = {}
    for path, entry in read:
        if path in members or path.startswith(tuple(folders)):
            continue
        if isinstance(entry, str):
            problems.append((path, entry))
        elif entry.id in found:
            problems.append((path, f"artifact id {entry.id} is also at another key"))
        else:
            found[entry.id] = entry
    return sorted(found.values(), key=lambda m: (m.created, m.key))
