"""`Catalog`: what was written, its versions, tags, labels, metadata aspects and lineage.

The catalog row is the commit point of an artifact: bytes and manifest are written first, the row
last, in the transaction that assigns the version. A crash in between leaves an orphan in the store
for `gc`, never a row pointing at missing bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, update

from ..errors import ArtifactNotFound, ConfigError, InvalidName
from ..manifest import Manifest
from ..naming import validate_name
from ..redact import redact_url
from . import schema as t
from .database import ensure_schema, insert_ignore, open_engine, write
from .listing import after, listing
from .records import (
    Page,
    as_moment,
    check_labels,
    decode_cursor,
    encode_cursor,
    insert_labels,
    name_is,
    now,
    row_to_manifest,
)
from .refs import Ref, parse_ref
from .runs import RunLog

MAX_PAGE = 1000
_BUMP_VERSION = (
    update(t.artifact_names)
    .where(t.artifact_names.c.project == bindparam("p"), t.artifact_names.c.name == bindparam("n"))
    .values(latest_version=t.artifact_names.c.latest_version + 1)
    .returning(t.artifact_names.c.latest_version)
)


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
    ) -> Manifest:
        """Give `manifest` its version, `publish` it (write the manifest file), and commit its row.

        `publish` runs inside the transaction, so a failure there leaves no row behind.
        """

        def work(conn: Connection) -> Manifest:
            sr_id = step_run_id or self._step_run(
                conn, manifest.project, manifest.run_id, manifest.step
            )
            missing = set(inputs) - self._existing_ids(conn, inputs) if inputs else set()
            if missing:
                raise ArtifactNotFound(
                    f"input artifacts {sorted(missing)} of {manifest.name!r} are not in {self}"
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
            recorded = write(self.engine, work)
        except BaseException:
            manifest.version = None
            raise
        self._known_projects.add(manifest.project)
        if step_run_id is None:
            self._known_step_runs[(manifest.project, manifest.run_id, manifest.step)] = (
                recorded.step_run_id
            )  # type: ignore[assignment]
        return recorded

    def restore(self, manifest: Manifest, store_url: str, store_id: str) -> bool:
        """Insert a row for a manifest found in the store (reindex); False if already present."""

        def work(conn: Connection) -> bool:
            if conn.execute(
                select(t.artifacts.c.id).where(t.artifacts.c.id == manifest.id)
            ).first():
                return False
            sr_id = self._step_run(
                conn, manifest.project, manifest.run_id, manifest.step, manifest.step_run_id
            )
            manifest.step_run_id = sr_id
            if manifest.version is None:
                manifest.version = self._next_version(conn, manifest.project, manifest.name)
            else:
                insert_ignore(
                    conn,
                    t.artifact_names,
                    [{"project": manifest.project, "name": manifest.name, "latest_version": 0}],
                )
                conn.execute(
                    update(t.artifact_names)
                    .where(name_is(t.artifact_names, manifest.project, manifest.name))
                    .values(
                        latest_version=func.max(t.artifact_names.c.latest_version, manifest.version)
                        if conn.dialect.name == "sqlite"
                        else func.greatest(t.artifact_names.c.latest_version, manifest.version)
                    )
                )
            self._insert(conn, manifest, store_url, store_id)
            return True

        return write(self.engine, work)

    def restore_inputs(self, manifest: Manifest) -> None:
        """Record lineage edges of a restored manifest whose inputs are in the catalog."""
        if not manifest.inputs or manifest.step_run_id is None:
            return

        def work(conn: Connection) -> None:
            present = conn.execute(
                select(t.artifacts.c.id).where(t.artifacts.c.id.in_(manifest.inputs))
            ).scalars()
            insert_ignore(
                conn,
                t.step_inputs,
                [{"step_run_id": manifest.step_run_id, "artifact_id": i} for i in present],
            )

        write(self.engine, work)

    def get(self, ref: str | Ref) -> Manifest:
        """The artifact a reference names: id, URN, or `store://project/name[@version|:tag]`."""
        parsed = ref if isinstance(ref, Ref) else parse_ref(ref)
        a = t.artifacts
        query = self._select()
        if parsed.id:
            query = query.where(a.c.id == parsed.id)
        elif parsed.tag:
            query = query.join(t.tags, t.tags.c.artifact_id == a.c.id).where(
                name_is(t.tags, parsed.project, parsed.name), t.tags.c.tag == parsed.tag
            )
        elif parsed.version:
            query = query.where(
                name_is(a, parsed.project, parsed.name), a.c.version == parsed.version
            )
        else:
            query = (
                query.where(name_is(a, parsed.project, parsed.name))
                .order_by(a.c.version.desc())
                .limit(1)
            )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise ArtifactNotFound(f"no artifact {parsed} in {self}")
        return row_to_manifest(row)

    def list_page(
        self,
        *,
        project: str | None = None,
        name: str | None = None,
        kind: str | None = None,
        labels: Mapping[str, str] | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        page_size: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """One page of artifacts, newest first, matching every filter given."""
        if not 0 < page_size <= MAX_PAGE:
            raise ConfigError(f"page_size must be between 1 and {MAX_PAGE}, got {page_size}")
        a = t.artifacts
        found = listing(
            project,
            labels,
            since=None if since is None else as_moment(since, "since"),
            until=None if until is None else as_moment(until, "until"),
        )
        conditions = found.conditions
        if name is not None:
            conditions.append(a.c.name == name)
        if kind is not None:
            conditions.append(a.c.kind == kind)
        if cursor is not None:
            conditions.append(after(found.created, found.id_column, *decode_cursor(cursor)))
        query = (
            self._select()
            .select_from(found.source)
            .where(*conditions)
            .order_by(found.created.desc(), found.id_column.desc())
            .limit(page_size + 1)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        items = [row_to_manifest(r) for r in rows[:page_size]]
        more = len(rows) > page_size
        return Page(items, encode_cursor(rows[page_size - 1]) if more else None)

    def iter_artifacts(self, *, page_size: int = 100, **filters: Any) -> Iterator[Manifest]:
        """All matching artifacts, newest first, fetched lazily one page at a time."""
        cursor = None
        while True:
            page = self.list_page(page_size=page_size, cursor=cursor, **filters)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def versions(
        self, project: str, name: str, *, page_size: int = 100, cursor: str | None = None
    ) -> Page:
        """Versions of one name, newest first; the cursor is the last version seen."""
        a = t.artifacts
        query = self._select().where(name_is(a, project, name))
        if cursor is not None:
            if not cursor.isdigit():
                raise InvalidName(f"invalid versions cursor {cursor!r}")
            query = query.where(a.c.version < int(cursor))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(a.c.version.desc()).limit(page_size + 1)).all()
        items = [row_to_manifest(r) for r in rows[:page_size]]
        return Page(items, str(items[-1].version) if len(rows) > page_size else None)

    def tags(self, artifact_id: str) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(
                conn.execute(
                    select(t.tags.c.tag).where(t.tags.c.artifact_id == artifact_id)
                ).scalars()
            )

    def tags_of_name(self, project: str, name: str) -> dict[str, int]:
        """Tag -> version for every tag on any version of (project, name)."""
        query = (
            select(t.tags.c.tag, t.artifacts.c.version)
            .join(t.artifacts, t.artifacts.c.id == t.tags.c.artifact_id)
            .where(name_is(t.tags, project, name))
        )
        with self.engine.connect() as conn:
            return {tag: version for tag, version in conn.execute(query)}

    def projects(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(select(t.projects.c.name).order_by(t.projects.c.name)).scalars()
            )

    def count(self, project: str | None = None) -> int:
        query = select(func.count()).select_from(t.artifacts)
        if project is not None:
            query = query.where(t.artifacts.c.project == project)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def update(
        self,
        artifact_id: str,
        *,
        labels: Mapping[str, str | None] | None = None,
        description: str | None = None,
    ) -> Manifest:
        """Merge `labels` (a None value removes the label) and/or replace the description."""

        def work(conn: Connection) -> None:
            query = self._select().add_columns(t.artifacts.c.project)
            row = conn.execute(query.where(t.artifacts.c.id == artifact_id)).first()
            if row is None:
                raise ArtifactNotFound(f"no artifact {artifact_id} in {self}")
            values: dict[str, Any] = {}
            if labels is not None:
                merged = {**row.labels, **{str(k): v for k, v in labels.items()}}
                merged = {k: str(v) for k, v in merged.items() if v is not None}
                check_labels(merged)
                values["labels"] = merged
                conn.execute(delete(t.labels).where(t.labels.c.artifact_id == artifact_id))
                insert_labels(conn, artifact_id, merged, row.project, row.created)
            if description is not None:
                values["description"] = description
            if values:
                conn.execute(
                    update(t.artifacts).where(t.artifacts.c.id == artifact_id).values(**values)
                )

        write(self.engine, work)
        return self.get(Ref(id=artifact_id))

    def tag(self, artifact_id: str, tag: str) -> None:
        """Point `tag` at this artifact, moving it from another version of the same name."""
        validate_name(tag, "tag")
        if tag.isdigit():
            raise InvalidName(f"tag {tag!r} would read as a version number; use a word")
        manifest = self.get(Ref(id=artifact_id))

        def work(conn: Connection) -> None:
            conn.execute(
                delete(t.tags).where(
                    name_is(t.tags, manifest.project, manifest.name), t.tags.c.tag == tag
                )
            )
            conn.execute(
                t.tags.insert().values(
                    project=manifest.project,
                    name=manifest.name,
                    tag=tag,
                    artifact_id=artifact_id,
                    created=now(),
                )
            )

        write(self.engine, work)

    def untag(self, project: str, name: str, tag: str) -> None:
        def work(conn: Connection) -> None:
            result = conn.execute(
                delete(t.tags).where(name_is(t.tags, project, name), t.tags.c.tag == tag)
            )
            if result.rowcount == 0:
                raise ArtifactNotFound(f"no tag {tag!r} on store://{project}/{name} in {self}")

        write(self.engine, work)

    def add_aspect(self, artifact_id: str, aspect: str, body: Any, json_schema: Any = None) -> None:
        validate_name(aspect, "aspect")
        self.get(Ref(id=artifact_id))
        write(
            self.engine,
            lambda conn: conn.execute(
                t.aspects.insert().values(
                    artifact_id=artifact_id,
                    aspect=aspect,
                    body=body,
                    json_schema=json_schema,
                    created=now(),
                )
            ),
        )

    def aspects(self, artifact_id: str) -> dict[str, Any]:
        """The latest record of each metadata aspect of an artifact."""
        query = (
            select(t.aspects.c.aspect, t.aspects.c.body)
            .where(t.aspects.c.artifact_id == artifact_id)
            .order_by(t.aspects.c.pk)
        )
        with self.engine.connect() as conn:
            return {aspect: body for aspect, body in conn.execute(query)}

    def dependents(self, artifact_ids: Sequence[str]) -> list[Manifest]:
        """Artifacts (outside `artifact_ids`) produced by step runs that consumed one of them."""
        a = t.artifacts
        consumers = select(t.step_inputs.c.step_run_id).where(
            t.step_inputs.c.artifact_id.in_(artifact_ids)
        )
        query = self._select().where(a.c.step_run_id.in_(consumers), a.c.id.not_in(artifact_ids))
        with self.engine.connect() as conn:
            return [row_to_manifest(r) for r in conn.execute(query)]

    def delete_rows(self, artifact_ids: Sequence[str]) -> None:
        """Remove artifacts' rows with their labels, tags, aspects and input edges."""

        def work(conn: Connection) -> None:
            for table in (t.labels, t.tags, t.aspects, t.step_inputs):
                conn.execute(delete(table).where(table.c.artifact_id.in_(artifact_ids)))
            conn.execute(delete(t.artifacts).where(t.artifacts.c.id.in_(artifact_ids)))

        write(self.engine, work)

    def by_ids(self, ids: Sequence[str]) -> list[Manifest]:
        with self.engine.connect() as conn:
            return [
                row_to_manifest(r)
                for r in conn.execute(self._select().where(t.artifacts.c.id.in_(ids)))
            ]

    def _select(self) -> Any:
        a = t.artifacts
        return select(
            a.c.manifest,
            a.c.version,
            a.c.labels,
            a.c.description,
            a.c.user_metadata,
            a.c.step_run_id,
            a.c.created,
            a.c.id,
        )

    def _existing_ids(self, conn: Connection, ids: Sequence[str]) -> set[str]:
        return set(
            conn.execute(select(t.artifacts.c.id).where(t.artifacts.c.id.in_(ids))).scalars()
        )

    def _next_version(self, conn: Connection, project: str, name: str) -> int:
        """Increment the (project, name) counter; the row lock serializes concurrent writers."""
        params = {"p": project, "n": name}
        version = conn.execute(_BUMP_VERSION, params).scalar()
        if version is None:
            insert_ignore(
                conn, t.artifact_names, [{"project": project, "name": name, "latest_version": 0}]
            )
            version = conn.execute(_BUMP_VERSION, params).scalar_one()
        return version

    def _insert(self, conn: Connection, manifest: Manifest, store_url: str, store_id: str) -> None:
        check_labels(manifest.labels)
        self._project(conn, manifest.project)
        created = datetime.fromisoformat(manifest.created)
        conn.execute(
            t.artifacts.insert(),
            {
                "id": manifest.id,
                "project": manifest.project,
                "name": manifest.name,
                "version": manifest.version,
                "kind": manifest.kind,
                "materializer": manifest.materializer,
                "store_url": store_url,
                "store_id": store_id,
                "key": manifest.key,
                "data_path": manifest.data_path,
                "checksum": manifest.checksum,
                "size": manifest.size,
                "mime_type": manifest.mime_type,
                "labels": manifest.labels,
                "description": manifest.description,
                "user_metadata": manifest.user_metadata,
                "manifest": manifest.to_dict(),
                "created": created,
                "step_run_id": manifest.step_run_id,
                "status": "committed",
            },
        )
        insert_labels(conn, manifest.id, manifest.labels, manifest.project, created)
