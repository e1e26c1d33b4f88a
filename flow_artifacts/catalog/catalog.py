"""`Catalog`: what was written, its versions, tags, labels, metadata aspects and lineage.

The catalog row is the commit point of an artifact: bytes and manifest are written first, the row
last, in the transaction that assigns the version. A crash in between leaves an orphan in the store
for `gc`, never a row pointing at missing bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from ..errors import ArtifactNotFound, ConfigError, IntegrityError, InvalidName
from ..limits import check_json, check_text
from ..manifest import Manifest
from ..naming import LATEST, validate_name
from ..redact import redact_url
from ..refs import Ref, artifact_uri, parse_ref
from . import listing, lookups
from . import schema as t
from .changes import (
    apply_update,
    artifact_stamp,
    delete_artifacts,
    insert_aspect,
    label_patch,
    name_stamp,
    set_tag,
    untag_name,
)
from .database import ensure_schema, insert_ignore, open_engine, write
from .journaling import JournalSink, Pending, journaled
from .lineage import Direction, LineageGraph, walk_lineage
from .listing import Search
from .recording import insert_artifact, next_version, reserve_version
from .records import Page, name_is
from .runs import RunLog


class Catalog(RunLog):
    """A catalog database at a SQLAlchemy URL (SQLite file by default, PostgreSQL for teams)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = open_engine(url)
        ensure_schema(self.engine, redact_url(url))
        self._known_step_runs: dict[tuple[str, str, str], str] = {}
        self._known_projects: set[str] = set()
        self._known_runs: dict[tuple[str, str], int] = {}

    def __repr__(self) -> str:
        return f"Catalog({redact_url(self.url)!r})"

    def close(self) -> None:
        self.engine.dispose()

    def record(
        self,
        manifest: Manifest,
        *,
        store_url: str,
        store_id: str,
        publish: Callable[[Manifest], None],
        inputs: Sequence[str] = (),
        step_run_id: str | None = None,
        journal: JournalSink | None = None,
    ) -> Manifest:
        """Give `manifest` its version, `publish` it (write the manifest file), and commit its row.

        `publish` runs inside the transaction, so a failure there leaves no row behind. A step
        run created here (outside a pipeline) is journaled to `journal`.
        """

        def work(conn: Connection, pending: Pending) -> Manifest:
            sr_id = step_run_id or self._step_run(
                conn, manifest.project, manifest.run_id, manifest.step, pending=pending
            )
            missing = set(inputs) - self._existing_ids(conn, inputs) if inputs else set()
            if missing:
                raise ArtifactNotFound(
                    f"input artifacts {sorted(missing)} of {manifest.name!r} are not in the catalog"
                )
            manifest.version = self._next_version(conn, manifest.project, manifest.name)
            manifest.step_run_id = sr_id
            manifest.inputs = list(dict.fromkeys(inputs))
            publish(manifest)
            self._insert(conn, manifest, store_url, store_id)
            insert_ignore(
                conn,
                t.step_inputs,
                [{"step_run_id": sr_id, "artifact_id": i} for i in manifest.inputs],
            )
            return manifest

        try:
            recorded = journaled(self.engine, journal, work)
        except BaseException:
            manifest.version = None
            raise
        self._known_projects.add(manifest.project)
        if step_run_id is None and recorded.step_run_id is not None:
            self._known_step_runs[(manifest.project, manifest.run_id, manifest.step)] = (
                recorded.step_run_id
            )
        return recorded

    def record_many(
        self,
        manifests: Sequence[Manifest],
        *,
        store_url: str,
        store_id: str,
        publish: Callable[[Manifest], None],
        inputs: Sequence[str] = (),
        step_run_id: str | None = None,
        journal: JournalSink | None = None,
    ) -> list[Manifest]:
        """`record` for many manifests of one step run, in one transaction: all commit, or none.

        Each gets its version and is published in turn, then its row inserted; the step run, the
        check of `inputs` and their lineage edges are done once. (Added for `materialize_many`.)
        """
        if not manifests:
            return []
        first = manifests[0]
        if any((m.project, m.run_id, m.step) != (first.project, first.run_id, first.step)
               for m in manifests):  # fmt: skip
            raise ConfigError("record_many records the manifests of one step run; call it per run")

        def work(conn: Connection, pending: Pending) -> list[Manifest]:
            sr_id = step_run_id or self._step_run(
                conn, first.project, first.run_id, first.step, pending=pending
            )
            missing = set(inputs) - self._existing_ids(conn, inputs) if inputs else set()
            if missing:
                raise ArtifactNotFound(
                    f"input artifacts {sorted(missing)} of {first.name!r} are not in the catalog"
                )
            for manifest in manifests:
                manifest.version = self._next_version(conn, manifest.project, manifest.name)
                manifest.step_run_id = sr_id
                manifest.inputs = list(dict.fromkeys(inputs))
                publish(manifest)
                self._insert(conn, manifest, store_url, store_id)
            edges = [{"step_run_id": sr_id, "artifact_id": i} for i in first.inputs]
            insert_ignore(conn, t.step_inputs, edges)
            return list(manifests)

        try:
            recorded = journaled(self.engine, journal, work)
        except BaseException:
            for manifest in manifests:
                manifest.version = None
            raise
        self._known_projects.add(first.project)
        if step_run_id is None and first.step_run_id is not None:
            self._known_step_runs[(first.project, first.run_id, first.step)] = first.step_run_id
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
        if conn.execute(select(t.artifacts.c.id).where(t.artifacts.c.id == manifest.id)).first():
            return False
        sr_id = self._step_run(
            conn, manifest.project, manifest.run_id, manifest.step, manifest.step_run_id
        )
        manifest.step_run_id = sr_id
        if manifest.version is None:
            manifest.version = self._next_version(conn, manifest.project, manifest.name)
        else:
            self._reserve_version(conn, manifest.project, manifest.name, manifest.version)
        a = t.artifacts
        holder = conn.execute(
            select(a.c.key).where(
                name_is(a, manifest.project, manifest.name), a.c.version == manifest.version
            )
        ).scalar()
        if holder is not None:
            uri = artifact_uri(manifest.project, manifest.name)
            raise IntegrityError(
                f"version {manifest.version} of {uri} "
                f"is already recorded for the artifact at {holder!r:.200}: two catalogs "
                "wrote this store? Not restored; load it by its store path"
            )
        self._insert(conn, manifest, store_url, store_id, pickle_trusted=trust_pickles)
        return True

    def pickle_trusted(self, artifact_id: str) -> bool:
        """Whether the bytes of the artifact's row may be unpickled: not if reindex restored it
        from the store and nobody trusted it since. `ArtifactNotFound` without a row."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.artifacts.c.pickle_trusted).where(t.artifacts.c.id == artifact_id)
            ).first()
        if row is None:
            raise ArtifactNotFound(f"no artifact with id {artifact_id}")
        return row.pickle_trusted is not False

    def trust_pickle(self, artifact_id: str) -> None:
        """Let the artifact's bytes be unpickled. Not journaled: the journal is untrusted input,
        so no record can ever grant this; a rebuilt catalog asks again."""

        def work(conn: Connection) -> None:
            a = t.artifacts
            done = conn.execute(update(a).where(a.c.id == artifact_id).values(pickle_trusted=True))
            if not done.rowcount:
                raise ArtifactNotFound(f"no artifact with id {artifact_id}")

        write(self.engine, work)

    def reserve_version(self, project: str, name: str, version: int) -> None:
        """Make sure `version` of (project, name) is never handed out again (a deleted one)."""
        write(self.engine, lambda conn: self._reserve_version(conn, project, name, version))

    def restore_inputs(self, conn: Connection, manifest: Manifest) -> None:
        """Record, on `conn`, lineage edges of a restored manifest whose inputs are in the
        catalog."""
        if not manifest.inputs or manifest.step_run_id is None:
            return
        present = conn.execute(
            select(t.artifacts.c.id).where(t.artifacts.c.id.in_(manifest.inputs))
        ).scalars()
        insert_ignore(
            conn,
            t.step_inputs,
            [{"step_run_id": manifest.step_run_id, "artifact_id": i} for i in present],
        )

    def get(self, ref: str | Ref) -> Manifest:
        """The artifact a reference names: id, URN, or `store://project/name[@version|:tag]`."""
        parsed = ref if isinstance(ref, Ref) else parse_ref(ref)
        with self.engine.connect() as conn:
            found = lookups.artifact(conn, parsed)
            hint = lookups.nearby(conn, parsed) if found is None else ""
        if found is None:
            raise ArtifactNotFound(f"no artifact {parsed}" + (f": {hint}" if hint else ""))
        return found

    def nearby(self, ref: str | Ref) -> str:
        """What exists near a reference that names nothing: the projects or names it may have
        meant ("did you mean"), or the versions and tags of its name; "" if nothing helps."""
        parsed = ref if isinstance(ref, Ref) else parse_ref(ref)
        with self.engine.connect() as conn:
            return lookups.nearby(conn, parsed)

    def next_version(self, project: str, name: str) -> int:
        """The version the next write of (project, name) would get, unless another commits
        first: the store puts it into the path of a write whose key is taken."""
        with self.engine.connect() as conn:
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
        page_size: int = 100,
        cursor: str | None = None,
        total: bool = False,
    ) -> Page:
        """One page of artifacts, newest first, matching every filter given; with `total`,
        `Page.total` counts them in all pages."""
        with self.engine.connect() as conn:
            return listing.page(
                conn, project=project, name=name, kind=kind, labels=labels, since=since,
                until=until, run_id=run_id, page_size=page_size, cursor=cursor, total=total,
            )  # fmt: skip

    def iter_artifacts(self, *, page_size: int = 100, **filters: Any) -> Iterator[Manifest]:
        """All matching artifacts, newest first, fetched lazily one page at a time."""
        cursor = None
        while True:
            page = self.list_page(page_size=page_size, cursor=cursor, **filters)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def search(self, query: Search) -> Page:
        """One page of the searchable, sortable list the web page shows."""
        with self.engine.connect() as conn:
            return listing.search(conn, query)

    def names_info(self, names: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Version count and tags (tag -> version) of each (project, name)."""
        with self.engine.connect() as conn:
            return listing.names_info(conn, names)

    def project_counts(self) -> dict[str, int]:
        """How many artifacts each project holds."""
        with self.engine.connect() as conn:
            return listing.project_counts(conn)

    def versions(
        self, project: str, name: str, *, page_size: int = 100, cursor: str | None = None
    ) -> Page:
        """Versions of one name, newest first; the cursor is the last version seen."""
        with self.engine.connect() as conn:
            return listing.versions(conn, project, name, page_size=page_size, cursor=cursor)

    def tags(self, artifact_id: str) -> list[str]:
        with self.engine.connect() as conn:
            return lookups.tags(conn, artifact_id)

    def tags_of_name(self, project: str, name: str) -> dict[str, int]:
        """Tag -> version for every tag on any version of (project, name)."""
        with self.engine.connect() as conn:
            return lookups.tags_of_name(conn, project, name)

    def projects(self) -> list[str]:
        with self.engine.connect() as conn:
            return lookups.projects(conn)

    def count(self, project: str | None = None) -> int:
        with self.engine.connect() as conn:
            return lookups.count(conn, project)

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
        patch = None if labels is None else label_patch(labels)
        if description is not None:
            check_text(description, "description")
        if metadata is not None:
            if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
                raise InvalidName("metadata must be a mapping with string keys")
            metadata = dict(metadata)
            check_json(metadata, "metadata")

        def work(conn: Connection, pending: Pending) -> None:
            after = artifact_stamp(conn, artifact_id)
            at = pending.stamp(after)
            if after is None or not apply_update(
                conn, artifact_id, patch, description, at, metadata
            ):
                raise ArtifactNotFound(f"no artifact {artifact_id}")
            fields = {
                "artifact_id": artifact_id,
                "labels": patch,
                "description": description,
                "metadata": metadata,
            }
            pending.add("update", at, fields)

        journaled(self.engine, journal, work)
        return self.get(Ref(id=artifact_id))

    def tag(self, artifact_id: str, tag: str, *, journal: JournalSink | None = None) -> None:
        """Point `tag` at this artifact, moving it from another version of the same name."""
        validate_name(tag, "tag")
        if tag.isdigit():
            raise InvalidName(f"tag {tag!r} would read as a version number; use a word")
        if any(c.isspace() for c in tag):
            raise InvalidName(
                f"tag {tag!r} contains white space, which a reference cannot carry; "
                f"use {'-'.join(tag.split())!r}"
            )
        if tag == LATEST:
            raise InvalidName(
                f"tag {LATEST!r} is reserved: ':{LATEST}' always means the newest version; "
                "choose another tag"
            )
        manifest = self.get(Ref(id=artifact_id))

        def work(conn: Connection, pending: Pending) -> None:
            at = pending.stamp(name_stamp(conn, manifest.project, manifest.name))
            set_tag(conn, manifest.project, manifest.name, tag, artifact_id, at)
            fields = {"project": manifest.project, "name": manifest.name, "tag": tag}
            pending.add("tag", at, {**fields, "artifact_id": artifact_id})

        journaled(self.engine, journal, work)

    def untag(
        self, project: str, name: str, tag: str, *, journal: JournalSink | None = None
    ) -> None:
        def work(conn: Connection, pending: Pending) -> None:
            at = pending.stamp(name_stamp(conn, project, name))
            if not untag_name(conn, project, name, tag, at):
                raise ArtifactNotFound(f"no tag {tag!r} on {artifact_uri(project, name)}")
            pending.add("untag", at, {"project": project, "name": name, "tag": tag})

        journaled(self.engine, journal, work)

    def add_aspect(
        self,
        artifact_id: str,
        aspect: str,
        body: Any,
        json_schema: Any = None,
        *,
        journal: JournalSink | None = None,
    ) -> None:
        validate_name(aspect, "aspect")
        check_json(body, f"metadata aspect {aspect!r}")
        check_json(json_schema, f"the schema of metadata aspect {aspect!r}")
        self.get(Ref(id=artifact_id))

        def work(conn: Connection, pending: Pending) -> None:
            after = artifact_stamp(conn, artifact_id)
            if after is None:
                raise ArtifactNotFound(f"no artifact {artifact_id}")
            at = pending.stamp(after)
            insert_aspect(conn, artifact_id, aspect, body, json_schema, at)
            fields = {"artifact_id": artifact_id, "aspect": aspect}
            pending.add("aspect", at, {**fields, "body": body, "json_schema": json_schema})

        journaled(self.engine, journal, work)

    def aspects(self, artifact_id: str) -> dict[str, Any]:
        """The latest record of each metadata aspect of an artifact."""
        with self.engine.connect() as conn:
            return lookups.aspects(conn, artifact_id)

    def lineage(
        self, artifact_id: str, direction: Direction = "upstream", depth: int | None = None
    ) -> LineageGraph:
        """Artifacts and step runs upstream or downstream of an artifact, `depth` step-run hops
        at most (None: all)."""
        return walk_lineage(self, artifact_id, direction, depth)

    def dependents(self, artifact_ids: Sequence[str]) -> list[Manifest]:
        """Artifacts (outside `artifact_ids`) produced by step runs that consumed one of them."""
        with self.engine.connect() as conn:
            return lookups.dependents(conn, artifact_ids)

    def delete_rows(
        self, artifact_ids: Sequence[str], *, journal: JournalSink | None = None
    ) -> None:
        """Remove artifacts' rows with their labels, tags, aspects and input edges.

        Each deleted artifact leaves a tombstone in `journal`, so `reindex` keeps it deleted and
        never hands out its version number again.
        """
        a = t.artifacts

        def work(conn: Connection, pending: Pending) -> None:
            rows = conn.execute(
                select(a.c.id, a.c.project, a.c.name, a.c.version, a.c.step_run_id, a.c.manifest)
                .where(a.c.id.in_(artifact_ids))
                .with_for_update()
            ).all()
            stamps = [artifact_stamp(conn, row.id) for row in rows]
            at = pending.stamp(max((s for s in stamps if s is not None), default=None))
            delete_artifacts(conn, artifact_ids)
            for row in rows:
                fields = {"project": row.project, "name": row.name, "version": row.version}
                # the step run that made it keeps its inputs: lineage of its other outputs
                made_by = {"step_run_id": row.step_run_id, "inputs": row.manifest["inputs"]}
                pending.add("delete", at, {"artifact_id": row.id, **fields, **made_by})

        journaled(self.engine, journal, work)

    def by_ids(self, ids: Sequence[str]) -> list[Manifest]:
        with self.engine.connect() as conn:
            return lookups.by_ids(conn, ids)

    def at_keys(self, store_id: str, keys: Sequence[str]) -> Manifest | None:
        """The artifact recorded at the first of `keys` in the store with id `store_id` (or in
        any store, for rows written before stores had ids)."""
        with self.engine.connect() as conn:
            return lookups.at_keys(conn, store_id, keys)

    def _existing_ids(self, conn: Connection, ids: Sequence[str]) -> set[str]:
        return lookups.existing_ids(conn, ids)

    def _next_version(self, conn: Connection, project: str, name: str) -> int:
        return next_version(conn, project, name)

    def _reserve_version(self, conn: Connection, project: str, name: str, version: int) -> None:
        self._project(conn, project)
        reserve_version(conn, project, name, version)

    def _insert(
        self,
        conn: Connection,
        manifest: Manifest,
        store_url: str,
        store_id: str,
        *,
        pickle_trusted: bool | None = None,
    ) -> None:
        self._project(conn, manifest.project)
        insert_artifact(conn, manifest, store_url, store_id, pickle_trusted)
