"""`Catalog`: what was written, its versions, tags, labels, metadata aspects and lineage.

The façade over the catalog's query functions: it alone holds the engine, opens a connection
(or a write transaction, journaled where the change is) per call, and hands it to a function of
`recording`, `curation`, `lookups`, `listing`, `lineage`, `inventory` (or, for runs, of `runs`
and `run_writes`, through `RunMethods`).

The catalog row is the commit point of an artifact: bytes and manifest are written first, the row
last, in the transaction that assigns the version. A crash in between leaves an orphan in the store
for `gc`, never a row pointing at missing bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection

from ..errors import ArtifactNotFound, ConfigError
from ..limits import check_json
from ..manifest import Manifest, ManifestJSON
from ..naming import validate_aspect_name
from ..redact import redact_url
from ..refs import Ref, parse_ref
from . import curation, listing, lookups, recording, search
from .database import KeptWriteConnection, ensure_schema, open_engine, read, shown_catalog, write
from .driver_reads import DriverReads, forgotten_at_fork
from .journaling import JournalSink, Pending, journaled
from .lineage import Direction, LineageGraph, walk_lineage
from .liveness import renews_heartbeats
from .maintenance_facade import MaintenanceMethods
from .records import Page, as_moment, row_to_manifest
from .run_facade import RunMethods
from .run_writes import Known, ensure_project
from .search import Search

T = TypeVar("T")


class Catalog(RunMethods, MaintenanceMethods):
    """A catalog database at a SQLAlchemy URL (SQLite file by default, PostgreSQL for teams)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = open_engine(url)
        ensure_schema(self.engine, shown_catalog(url))
        self._known = Known()
        self._renews = renews_heartbeats(self.engine.url)
        self._driver = DriverReads.for_engine(self.engine)
        self._kept = KeptWriteConnection.for_engine(self.engine)
        if not self.in_memory:
            forgotten_at_fork(self)

    def __repr__(self) -> str:
        return f"Catalog({redact_url(self.url)!r})"

    def close(self) -> None:
        self._stop_heartbeat()
        if self._driver is not None:
            self._driver.close()
        if self._kept is not None:
            self._kept.close()
        self.engine.dispose()

    def forget(self) -> None:
        """In a forked child: drop the parent's pooled connections unclosed (closing would end
        its PostgreSQL sessions), to open its own. Not for in-memory SQLite, which lives in one."""
        self.engine.dispose(close=False)

    @property
    def backend(self) -> str:
        """The database behind it: "sqlite" or "postgresql"."""
        return self.engine.url.get_backend_name()

    @property
    def in_memory(self) -> bool:
        """Whether it lives in this process's memory only (in-memory SQLite)."""
        return not self._renews

    def _read(self) -> Connection:
        return read(self.engine)

    def _write(self, work: Callable[[Connection], T], what: str = "catalog write") -> T:
        return write(self.engine, work, what, self._kept)

    def _journaled(
        self, journal: JournalSink | None, work: Callable[[Connection, Pending], T]
    ) -> T:
        return journaled(self.engine, journal, work, kept=self._kept)

    # --- recording ---------------------------------------------------------------------------

    def record(
        self,
        manifest: Manifest,
        *,
        store_url: str,
        store_id: str,
        publish: Callable[[Manifest], ManifestJSON | None],
        inputs: Sequence[str] = (),
        step_run_id: str | None = None,
        journal: JournalSink | None = None,
    ) -> Manifest:
        """Give `manifest` its version, `publish` it (write the manifest file), and commit its row.

        `publish` runs inside the transaction, so a failure there leaves no row behind. A step
        run created here (outside a pipeline) is journaled to `journal`."""
        return self.record_many(
            [manifest], store_url=store_url, store_id=store_id, publish=publish, inputs=inputs,
            step_run_id=step_run_id, journal=journal,
        )[0]  # fmt: skip

    def record_many(
        self,
        manifests: Sequence[Manifest],
        *,
        store_url: str,
        store_id: str,
        publish: Callable[[Manifest], ManifestJSON | None],
        inputs: Sequence[str] = (),
        step_run_id: str | None = None,
        journal: JournalSink | None = None,
    ) -> list[Manifest]:
        """`record` for the manifests of one step run, in one transaction: all commit, or none."""
        if not manifests:
            return []
        first = manifests[0]
        if any((m.project, m.run_id, m.step) != (first.project, first.run_id, first.step)
               for m in manifests):  # fmt: skip
            raise ConfigError("record_many records the manifests of one step run; call it per run")

        def work(conn: Connection, pending: Pending) -> list[Manifest]:
            sr_id = step_run_id
            for manifest in manifests:
                recording.record(
                    conn, pending, self._known, manifest, store_url=store_url,
                    store_id=store_id, publish=publish, inputs=inputs, step_run_id=sr_id,
                )  # fmt: skip
                sr_id = manifest.step_run_id  # the first one's, found or created
            return list(manifests)

        try:
            recorded = self._journaled(journal, work)
        except BaseException:
            for manifest in manifests:
                manifest.version = None
            raise
        self._known.projects.add(first.project)
        if step_run_id is None and first.step_run_id is not None:
            self._known.step_runs[(first.project, first.run_id, first.step)] = first.step_run_id
        return recorded

    def restore(
        self,
        conn: Connection,
        manifest: Manifest,
        store_url: str,
        store_id: str,
        *,
        trust_pickles: bool = False,
    ) -> bool:
        """Insert a row for a manifest found in the store, on `conn` (the one transaction of a
        reindex); False if already present.

        The store is untrusted input, so the row's bytes may be unpickled only once someone
        trusts them (`trust_pickle`), unless `trust_pickles` says so now.
        """
        return recording.restore(conn, self._known, manifest, store_url, store_id, trust_pickles)

    def restore_inputs(self, conn: Connection, manifest: Manifest) -> None:
        """Record, on `conn`, lineage edges of a restored manifest whose inputs are in the
        catalog."""
        recording.restore_inputs(conn, manifest)

    def reindex_transaction(self, work: Callable[[Connection], T]) -> T:
        """Run a whole reindex in one write transaction (retried from the start while busy)."""
        return self._write(work, what="reindex")

    def reserve_version(self, project: str, name: str, version: int) -> None:
        """Make sure `version` of (project, name) is never handed out again (a deleted one)."""

        def work(conn: Connection) -> None:
            ensure_project(conn, self._known, project)
            recording.reserve_version(conn, project, name, version)

        self._write(work)

    def pickle_trusted(self, artifact_id: str) -> bool:
        """Whether the bytes of the artifact's row may be unpickled: not if reindex restored it
        from the store and nobody trusted it since. `ArtifactNotFound` without a row."""
        with self._read() as conn:
            return curation.pickle_trusted(conn, artifact_id)

    def trust_pickle(self, artifact_id: str) -> None:
        """Let the artifact's bytes be unpickled. Not journaled: the journal is untrusted input,
        so no record can ever grant this; a rebuilt catalog asks again."""
        self._write(lambda conn: curation.trust_pickle(conn, artifact_id))

    # --- reads -------------------------------------------------------------------------------

    def get(self, ref: str | Ref) -> Manifest:
        """The artifact a reference names: id, URN, or `store://project/name[@version|:tag]`."""
        parsed = ref if isinstance(ref, Ref) else parse_ref(ref)
        query = lookups.artifact_query(parsed)
        if query is not None:
            if self._driver is not None:  # file SQLite: the one-row read without SQLAlchemy's
                row = self._driver.first(*query)  # per-execution work, most of a small load
            else:
                with self._read() as conn:
                    row = conn.execute(*query).first()
            if row is not None:
                return row_to_manifest(row)
        with self._read() as conn:
            hint = lookups.nearby(conn, parsed)
        raise ArtifactNotFound(f"no artifact {parsed}" + (f": {hint}" if hint else ""))

    def nearby(self, ref: str | Ref) -> str:
        """What exists near a reference that names nothing: the projects or names it may have
        meant ("did you mean"), or the versions and tags of its name; "" if nothing helps."""
        parsed = ref if isinstance(ref, Ref) else parse_ref(ref)
        with self._read() as conn:
            return lookups.nearby(conn, parsed)

    def next_version(self, project: str, name: str) -> int:
        """The version the next write of (project, name) would get, unless another commits
        first: the store puts it into the path of a write whose key is taken."""
        with self._read() as conn:
            return lookups.next_version(conn, project, name)

    def list_page(
        self,
        *,
        project: str | None = None,
        name: str | None = None,
        kind: str | None = None,
        labels: Mapping[str, str] | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        run_id: str | None = None,
        tag: str | None = None,
        label_keys: Iterable[str] = (),
        text: str | None = None,
        page_size: int = 100,
        cursor: str | None = None,
        total: bool = False,
    ) -> Page:
        """One page of artifacts, newest first, matching every filter given (`tag` on the
        artifact, labels by key alone, free `text` in name, description and labels); with
        `total`, `Page.total` counts them in all pages."""
        with self._read() as conn:
            return listing.page(
                conn, project=project, name=name, kind=kind, labels=labels, since=since,
                until=until, run_id=run_id, tag=tag, label_keys=label_keys, text=text,
                page_size=page_size, cursor=cursor, total=total,
            )  # fmt: skip

    def iter_artifacts(self, *, page_size: int = 100, **filters: Any) -> Iterator[Manifest]:
        """All matching artifacts, newest first, fetched lazily one page at a time; a relative
        time (`since="2d"`) is read once, so every page has the same window."""
        for field in ("since", "until"):
            if filters.get(field) is not None:
                filters[field] = as_moment(filters[field], field)
        cursor = None
        while True:
            page = self.list_page(page_size=page_size, cursor=cursor, **filters)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def search(self, query: Search) -> Page:
        """One page of the searchable, sortable list the web page shows."""
        with self._read() as conn:
            return search.search(conn, query)

    def names_info(self, names: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Version count and tags (tag -> version) of each (project, name)."""
        with self._read() as conn:
            return listing.names_info(conn, names)

    def project_counts(self) -> dict[str, int]:
        """How many artifacts each project holds."""
        with self._read() as conn:
            return listing.project_counts(conn)

    def versions(
        self, project: str, name: str, *, page_size: int = 100, cursor: str | None = None
    ) -> Page:
        """Versions of one name, newest first; the cursor is the last version seen."""
        with self._read() as conn:
            return listing.versions(conn, project, name, page_size=page_size, cursor=cursor)

    def tags(self, artifact_id: str) -> list[str]:
        with self._read() as conn:
            return lookups.tags(conn, artifact_id)

    def tags_of_name(self, project: str, name: str) -> dict[str, int]:
        """Tag -> version for every tag on any version of (project, name)."""
        with self._read() as conn:
            return lookups.tags_of_name(conn, project, name)

    def projects(self) -> list[str]:
        with self._read() as conn:
            return lookups.projects(conn)

    def count(self, project: str | None = None) -> int:
        with self._read() as conn:
            return lookups.count(conn, project)

    def aspects(self, artifact_id: str) -> dict[str, Any]:
        """The latest record of each metadata aspect of an artifact."""
        with self._read() as conn:
            return lookups.aspects(conn, artifact_id)

    def lineage(
        self, artifact_id: str, direction: Direction = "upstream", depth: int | None = None
    ) -> LineageGraph:
        """Artifacts and step runs upstream or downstream of an artifact, `depth` step-run hops
        at most (None: all)."""
        with self._read() as conn:
            return walk_lineage(conn, artifact_id, direction, depth, renews=self._renews)

    def dependents(self, artifact_ids: Sequence[str]) -> list[Manifest]:
        """Artifacts (outside `artifact_ids`) produced by step runs that consumed one of them."""
        with self._read() as conn:
            return lookups.dependents(conn, artifact_ids)

    def by_ids(self, ids: Sequence[str]) -> list[Manifest]:
        with self._read() as conn:
            return lookups.by_ids(conn, ids)

    def at_keys(self, store_id: str, keys: Sequence[str]) -> Manifest | None:
        """The artifact recorded at the first of `keys` in the store with id `store_id` (or in
        any store, for rows written before stores had ids)."""
        with self._read() as conn:
            return lookups.at_keys(conn, store_id, keys)

    # --- curation ----------------------------------------------------------------------------

    def update(
        self,
        artifact_id: str,
        *,
        labels: Mapping[str, str | None] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        journal: JournalSink | None = None,
    ) -> Manifest:
        """Merge `labels` and `metadata` (a None value removes a key) and/or replace the
        description; the change's time becomes the artifact's `updated`."""
        patch, meta = curation.checked_update(labels, description, metadata)
        self._journaled(
            journal,
            lambda c, p: curation.update_artifact(c, p, artifact_id, patch, description, meta),
        )
        return self.get(Ref(id=artifact_id))

    def tag(self, artifact_id: str, tag: str, *, journal: JournalSink | None = None) -> None:
        """Point `tag` at this artifact, moving it from another version of the same name."""
        curation.check_tag(tag)
        m = self.get(Ref(id=artifact_id))
        self._journaled(
            journal, lambda c, p: curation.tag(c, p, m.project, m.name, tag, artifact_id)
        )

    def untag(
        self, project: str, name: str, tag: str, *, journal: JournalSink | None = None
    ) -> None:
        self._journaled(journal, lambda c, p: curation.untag(c, p, project, name, tag))

    def add_aspect(
        self,
        artifact_id: str,
        aspect: str,
        body: Any,
        json_schema: Any = None,
        *,
        journal: JournalSink | None = None,
    ) -> None:
        validate_aspect_name(aspect)
        check_json(body, f"metadata aspect {aspect!r}")
        check_json(json_schema, f"the schema of metadata aspect {aspect!r}")
        self.get(Ref(id=artifact_id))
        self._journaled(
            journal,
            lambda c, p: curation.add_aspect(c, p, artifact_id, aspect, body, json_schema),
        )

    def delete_rows(
        self, artifact_ids: Sequence[str], *, journal: JournalSink | None = None
    ) -> None:
        """Remove artifacts' rows with their labels, tags, aspects and input edges.

        Each deleted artifact leaves a tombstone in `journal`, so `reindex` keeps it deleted and
        never hands out its version number again.
        """
        self._journaled(journal, lambda c, p: curation.delete_rows(c, p, artifact_ids))
