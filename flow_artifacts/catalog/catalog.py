"""`Catalog`: what was written, its versions, tags, labels, metadata aspects and lineage.

The catalog row is the commit point of an artifact: bytes and manifest are written first, the row
last, in the transaction that assigns the version. A crash in between leaves an orphan in the store
for `gc`, never a row pointing at missing bytes.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from ..errors import ArtifactNotFound, CatalogError, ConfigError, InvalidName
from ..manifest import Manifest
from ..naming import validate_name
from ..redact import redact_url
from . import schema as t
from .database import ensure_schema, insert_ignore, open_engine, write
from .refs import Ref, parse_ref

EXTERNAL = "external"
"""Status of runs and step runs whose lifecycle is managed outside flow_artifacts."""
MAX_PAGE = 1000


@dataclass
class Page:
    """One page of a listing; pass `next_cursor` back to get the next one (None at the end)."""

    items: list[Manifest]
    next_cursor: str | None


@dataclass
class StepRunRecord:
    id: str
    project: str
    run_id: str
    step: str
    status: str
    started: datetime
    ended: datetime | None = None
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    cached: bool = False
    cache_key: str | None = None
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


class Catalog:
    """A catalog database at a SQLAlchemy URL (SQLite file by default, PostgreSQL for teams)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = open_engine(url)
        ensure_schema(self.engine, redact_url(url))
        self._known_step_runs: dict[tuple[str, str, str], str] = {}

    def __repr__(self) -> str:
        return f"Catalog({redact_url(self.url)!r})"

    def close(self) -> None:
        self.engine.dispose()

    # --- recording ---------------------------------------------------------------------------

    def record(
        self,
        manifest: Manifest,
        *,
        store_url: str,
        publish: Callable[[Manifest], None],
        inputs: Sequence[str] = (),
        step_run_id: str | None = None,
    ) -> Manifest:
        """Give `manifest` its version, `publish` it (write the manifest file), and commit its row.

        `publish` runs inside the transaction, so a failure there leaves no row behind.
        """

        def work(conn: Connection) -> Manifest:
            sr_id = step_run_id or self._step_run(conn, manifest.project, manifest.run_id, manifest.step)
            missing = set(inputs) - set(
                conn.execute(select(t.artifacts.c.id).where(t.artifacts.c.id.in_(inputs))).scalars()
            )
            if missing:
                raise ArtifactNotFound(
                    f"input artifacts {sorted(missing)} of {manifest.name!r} are not in {self}"
                )
            manifest.version = self._next_version(conn, manifest.project, manifest.name)
            manifest.step_run_id = sr_id
            manifest.inputs = list(dict.fromkeys(inputs))
            publish(manifest)
            self._insert(conn, manifest, store_url)
            insert_ignore(
                conn, t.step_inputs, [{"step_run_id": sr_id, "artifact_id": i} for i in manifest.inputs]
            )
            return manifest

        try:
            recorded = write(self.engine, work)
        except BaseException:
            manifest.version = None
            raise
        if step_run_id is None:
            self._known_step_runs[(manifest.project, manifest.run_id, manifest.step)] = recorded.step_run_id  # type: ignore[assignment]
        return recorded

    def restore(self, manifest: Manifest, store_url: str) -> bool:
        """Insert a row for a manifest found in the store (reindex); False if already present."""

        def work(conn: Connection) -> bool:
            if conn.execute(select(t.artifacts.c.id).where(t.artifacts.c.id == manifest.id)).first():
                return False
            sr_id = self._step_run(conn, manifest.project, manifest.run_id, manifest.step, manifest.step_run_id)
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
                    .where(_name_is(t.artifact_names, manifest.project, manifest.name))
                    .values(latest_version=func.max(t.artifact_names.c.latest_version, manifest.version)
                            if conn.dialect.name == "sqlite"
                            else func.greatest(t.artifact_names.c.latest_version, manifest.version))
                )
            self._insert(conn, manifest, store_url)
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

    def start_run(self, project: str, run_id: str, *, name: str | None = None, pipeline: str | None = None) -> None:
        def work(conn: Connection) -> None:
            self._project(conn, project)
            insert_ignore(conn, t.runs, [{
                "project": project, "run_id": run_id, "name": name, "pipeline": pipeline,
                "status": "running", "started": _now(),
            }])

        write(self.engine, work)

    def finish_run(self, project: str, run_id: str, status: str, error: str | None = None) -> None:
        write(self.engine, lambda conn: conn.execute(
            update(t.runs).where(t.runs.c.project == project, t.runs.c.run_id == run_id)
            .values(status=status, ended=_now(), error=error)
        ))

    def start_step_run(
        self,
        project: str,
        run_id: str,
        step: str,
        *,
        params: Mapping[str, Any] | None = None,
        cache_key: str | None = None,
        inputs: Sequence[str] = (),
    ) -> str:
        """Record a step run as running; returns its id. Step names are unique within a run."""
        step_run_id = str(uuid.uuid4())

        def work(conn: Connection) -> None:
            run_pk = self._run_pk(conn, project, run_id)
            conn.execute(t.step_runs.insert().values(
                id=step_run_id, run_pk=run_pk, step=step, status="running", started=_now(),
                params=dict(params or {}), cache_key=cache_key, cached=False,
            ))
            insert_ignore(conn, t.step_inputs, [
                {"step_run_id": step_run_id, "artifact_id": i} for i in dict.fromkeys(inputs)
            ])

        write(self.engine, work)
        self._known_step_runs[(project, run_id, step)] = step_run_id
        return step_run_id

    def finish_step_run(
        self, step_run_id: str, status: str, *, error: str | None = None, cached: bool = False
    ) -> None:
        write(self.engine, lambda conn: conn.execute(
            update(t.step_runs).where(t.step_runs.c.id == step_run_id)
            .values(status=status, ended=_now(), error=error, cached=cached)
        ))

    # --- reading -----------------------------------------------------------------------------

    def get(self, ref: str | Ref) -> Manifest:
        """The artifact a reference names: id, URN, or `store://project/name[@version|:tag]`."""
        parsed = ref if isinstance(ref, Ref) else parse_ref(ref)
        a = t.artifacts
        query = self._select()
        if parsed.id:
            query = query.where(a.c.id == parsed.id)
        elif parsed.tag:
            query = query.join(t.tags, t.tags.c.artifact_id == a.c.id).where(
                _name_is(t.tags, parsed.project, parsed.name), t.tags.c.tag == parsed.tag
            )
        elif parsed.version:
            query = query.where(_name_is(a, parsed.project, parsed.name), a.c.version == parsed.version)
        else:
            query = query.where(_name_is(a, parsed.project, parsed.name)).order_by(a.c.version.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise ArtifactNotFound(f"no artifact {parsed} in {self}")
        return _manifest(row)

    def list_page(
        self,
        *,
        project: str | None = None,
        name: str | None = None,
        kind: str | None = None,
        labels: Mapping[str, str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """One page of artifacts, newest first, matching every filter given."""
        if not 0 < page_size <= MAX_PAGE:
            raise ConfigError(f"page_size must be between 1 and {MAX_PAGE}, got {page_size}")
        a = t.artifacts
        conditions: list[ColumnElement[bool]] = []
        if project is not None:
            conditions.append(a.c.project == project)
        if name is not None:
            conditions.append(a.c.name == name)
        if kind is not None:
            conditions.append(a.c.kind == kind)
        for key, value in (labels or {}).items():
            conditions.append(exists().where(
                t.labels.c.artifact_id == a.c.id, t.labels.c.key == key, t.labels.c.value == str(value)
            ))
        if since is not None:
            conditions.append(a.c.created >= _aware(since))
        if until is not None:
            conditions.append(a.c.created < _aware(until))
        if cursor is not None:
            created, last_id = _decode_cursor(cursor)
            conditions.append(or_(a.c.created < created, and_(a.c.created == created, a.c.id < last_id)))
        query = self._select().where(*conditions).order_by(a.c.created.desc(), a.c.id.desc()).limit(page_size + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        items = [_manifest(r) for r in rows[:page_size]]
        more = len(rows) > page_size
        return Page(items, _encode_cursor(rows[page_size - 1]) if more else None)

    def iter_artifacts(self, *, page_size: int = 100, **filters: Any) -> Iterator[Manifest]:
        """All matching artifacts, newest first, fetched lazily one page at a time."""
        cursor = None
        while True:
            page = self.list_page(page_size=page_size, cursor=cursor, **filters)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def versions(self, project: str, name: str, *, page_size: int = 100, cursor: str | None = None) -> Page:
        """Versions of one name, newest first; the cursor is the last version seen."""
        a = t.artifacts
        query = self._select().where(_name_is(a, project, name))
        if cursor is not None:
            if not cursor.isdigit():
                raise InvalidName(f"invalid versions cursor {cursor!r}")
            query = query.where(a.c.version < int(cursor))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(a.c.version.desc()).limit(page_size + 1)).all()
        items = [_manifest(r) for r in rows[:page_size]]
        return Page(items, str(items[-1].version) if len(rows) > page_size else None)

    def tags(self, artifact_id: str) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(conn.execute(
                select(t.tags.c.tag).where(t.tags.c.artifact_id == artifact_id)
            ).scalars())

    def tags_of_name(self, project: str, name: str) -> dict[str, int]:
        """Tag -> version for every tag on any version of (project, name)."""
        query = (
            select(t.tags.c.tag, t.artifacts.c.version)
            .join(t.artifacts, t.artifacts.c.id == t.tags.c.artifact_id)
            .where(_name_is(t.tags, project, name))
        )
        with self.engine.connect() as conn:
            return {tag: version for tag, version in conn.execute(query)}

    def projects(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(t.projects.c.name).order_by(t.projects.c.name)).scalars())

    def count(self, project: str | None = None) -> int:
        query = select(func.count()).select_from(t.artifacts)
        if project is not None:
            query = query.where(t.artifacts.c.project == project)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    # --- changing ----------------------------------------------------------------------------

    def update(self, artifact_id: str, *, labels: Mapping[str, str | None] | None = None,
               description: str | None = None) -> Manifest:
        """Merge `labels` (a None value removes the label) and/or replace the description."""

        def work(conn: Connection) -> None:
            row = conn.execute(self._select().where(t.artifacts.c.id == artifact_id)).first()
            if row is None:
                raise ArtifactNotFound(f"no artifact {artifact_id} in {self}")
            values: dict[str, Any] = {}
            if labels is not None:
                merged = {**row.labels, **{str(k): v for k, v in labels.items()}}
                merged = {k: str(v) for k, v in merged.items() if v is not None}
                _check_labels(merged)
                values["labels"] = merged
                conn.execute(delete(t.labels).where(t.labels.c.artifact_id == artifact_id))
                _insert_labels(conn, artifact_id, merged)
            if description is not None:
                values["description"] = description
            if values:
                conn.execute(update(t.artifacts).where(t.artifacts.c.id == artifact_id).values(**values))

        write(self.engine, work)
        return self.get(Ref(id=artifact_id))

    def tag(self, artifact_id: str, tag: str) -> None:
        """Point `tag` at this artifact, moving it from another version of the same name."""
        validate_name(tag, "tag")
        if tag.isdigit():
            raise InvalidName(f"tag {tag!r} would read as a version number; use a word")
        manifest = self.get(Ref(id=artifact_id))

        def work(conn: Connection) -> None:
            conn.execute(delete(t.tags).where(
                _name_is(t.tags, manifest.project, manifest.name), t.tags.c.tag == tag
            ))
            conn.execute(t.tags.insert().values(
                project=manifest.project, name=manifest.name, tag=tag,
                artifact_id=artifact_id, created=_now(),
            ))

        write(self.engine, work)

    def untag(self, project: str, name: str, tag: str) -> None:
        def work(conn: Connection) -> None:
            result = conn.execute(delete(t.tags).where(_name_is(t.tags, project, name), t.tags.c.tag == tag))
            if result.rowcount == 0:
                raise ArtifactNotFound(f"no tag {tag!r} on store://{project}/{name} in {self}")

        write(self.engine, work)

    def add_aspect(self, artifact_id: str, aspect: str, body: Any, json_schema: Any = None) -> None:
        validate_name(aspect, "aspect")
        self.get(Ref(id=artifact_id))
        write(self.engine, lambda conn: conn.execute(t.aspects.insert().values(
            artifact_id=artifact_id, aspect=aspect, body=body, json_schema=json_schema, created=_now()
        )))

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
        consumers = select(t.step_inputs.c.step_run_id).where(t.step_inputs.c.artifact_id.in_(artifact_ids))
        query = self._select().where(a.c.step_run_id.in_(consumers), a.c.id.not_in(artifact_ids))
        with self.engine.connect() as conn:
            return [_manifest(r) for r in conn.execute(query)]

    def delete_rows(self, artifact_ids: Sequence[str]) -> None:
        """Remove artifacts' rows with their labels, tags, aspects and input edges."""

        def work(conn: Connection) -> None:
            for table in (t.labels, t.tags, t.aspects, t.step_inputs):
                conn.execute(delete(table).where(table.c.artifact_id.in_(artifact_ids)))
            conn.execute(delete(t.artifacts).where(t.artifacts.c.id.in_(artifact_ids)))

        write(self.engine, work)

    # --- step runs and lineage helpers ---------------------------------------------------------

    def step_run(self, step_run_id: str) -> StepRunRecord:
        records = self.step_runs_by_ids([step_run_id])
        if not records:
            raise ArtifactNotFound(f"no step run {step_run_id} in {self}")
        return records[0]

    def step_runs_by_ids(self, ids: Sequence[str]) -> list[StepRunRecord]:
        return self._step_runs(t.step_runs.c.id.in_(ids))

    def step_runs_of_run(self, project: str, run_id: str) -> list[StepRunRecord]:
        return self._step_runs(and_(t.runs.c.project == project, t.runs.c.run_id == run_id))

    def consumers(self, artifact_ids: Sequence[str]) -> dict[str, list[str]]:
        """Artifact id -> ids of the step runs that took it as input."""
        query = select(t.step_inputs.c.artifact_id, t.step_inputs.c.step_run_id).where(
            t.step_inputs.c.artifact_id.in_(artifact_ids)
        )
        found: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for artifact_id, step_run_id in conn.execute(query):
                found.setdefault(artifact_id, []).append(step_run_id)
        return found

    def by_ids(self, ids: Sequence[str]) -> list[Manifest]:
        with self.engine.connect() as conn:
            return [_manifest(r) for r in conn.execute(self._select().where(t.artifacts.c.id.in_(ids)))]

    def runs(self, project: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = select(t.runs).order_by(t.runs.c.started.desc()).limit(limit)
        if project is not None:
            query = query.where(t.runs.c.project == project)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def find_cached(self, cache_key: str) -> StepRunRecord | None:
        """The latest completed, not itself cached, step run with this cache key."""
        records = self._step_runs(
            and_(t.step_runs.c.cache_key == cache_key, t.step_runs.c.status == "completed",
                 t.step_runs.c.cached.is_(False)),
            newest_first=True,
        )
        return records[0] if records else None

    # --- internals ---------------------------------------------------------------------------

    def _select(self) -> Any:
        a = t.artifacts
        return select(a.c.manifest, a.c.version, a.c.labels, a.c.description, a.c.user_metadata,
                      a.c.step_run_id, a.c.created, a.c.id)

    def _step_runs(self, condition: ColumnElement[bool], newest_first: bool = False) -> list[StepRunRecord]:
        s, r = t.step_runs, t.runs
        query = select(s, r.c.project, r.c.run_id).join(r, r.c.pk == s.c.run_pk).where(condition)
        query = query.order_by(s.c.started.desc() if newest_first else s.c.started)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            ids = [row.id for row in rows]
            inputs = conn.execute(select(t.step_inputs).where(t.step_inputs.c.step_run_id.in_(ids))).all()
            outputs = conn.execute(
                select(t.artifacts.c.step_run_id, t.artifacts.c.id).where(t.artifacts.c.step_run_id.in_(ids))
            ).all()
        records = []
        for row in rows:
            records.append(StepRunRecord(
                id=row.id, project=row.project, run_id=row.run_id, step=row.step, status=row.status,
                started=row.started, ended=row.ended, params=row.params or {}, error=row.error,
                cached=bool(row.cached), cache_key=row.cache_key,
                inputs=[i.artifact_id for i in inputs if i.step_run_id == row.id],
                outputs=[o.id for o in outputs if o.step_run_id == row.id],
            ))
        return records

    def _project(self, conn: Connection, project: str) -> None:
        insert_ignore(conn, t.projects, [{"name": project, "created": _now()}])

    def _run_pk(self, conn: Connection, project: str, run_id: str) -> int:
        self._project(conn, project)
        insert_ignore(conn, t.runs, [{
            "project": project, "run_id": run_id, "status": EXTERNAL, "started": _now(),
        }])
        return conn.execute(
            select(t.runs.c.pk).where(t.runs.c.project == project, t.runs.c.run_id == run_id)
        ).scalar_one()

    def _step_run(self, conn: Connection, project: str, run_id: str, step: str,
                  wanted_id: str | None = None) -> str:
        """Id of the step run (project, run_id, step), created if new (as an external one).

        Ids are cached per process only after their transaction commits (see `record`).
        """
        known = self._known_step_runs.get((project, run_id, step))
        if known is not None:
            return known
        run_pk = self._run_pk(conn, project, run_id)
        insert_ignore(conn, t.step_runs, [{
            "id": wanted_id or str(uuid.uuid4()), "run_pk": run_pk, "step": step, "status": EXTERNAL,
            "started": _now(), "cached": False,
        }])
        found = conn.execute(
            select(t.step_runs.c.id).where(t.step_runs.c.run_pk == run_pk, t.step_runs.c.step == step)
        ).scalar_one()
        return found

    def _next_version(self, conn: Connection, project: str, name: str) -> int:
        names = t.artifact_names
        insert_ignore(conn, names, [{"project": project, "name": name, "latest_version": 0}])
        conn.execute(update(names).where(_name_is(names, project, name))
                     .values(latest_version=names.c.latest_version + 1))
        return conn.execute(select(names.c.latest_version).where(_name_is(names, project, name))).scalar_one()

    def _insert(self, conn: Connection, manifest: Manifest, store_url: str) -> None:
        _check_labels(manifest.labels)
        self._project(conn, manifest.project)
        conn.execute(t.artifacts.insert().values(
            id=manifest.id, project=manifest.project, name=manifest.name, version=manifest.version,
            kind=manifest.kind, materializer=manifest.materializer, store_url=store_url,
            key=manifest.key, data_path=manifest.data_path, checksum=manifest.checksum,
            size=manifest.size, mime_type=manifest.mime_type, labels=manifest.labels,
            description=manifest.description, user_metadata=manifest.user_metadata,
            manifest=asdict(manifest), created=datetime.fromisoformat(manifest.created),
            step_run_id=manifest.step_run_id, status="committed",
        ))
        _insert_labels(conn, manifest.id, manifest.labels)


def _insert_labels(conn: Connection, artifact_id: str, labels: Mapping[str, str]) -> None:
    if labels:
        conn.execute(t.labels.insert(), [
            {"artifact_id": artifact_id, "key": k, "value": v} for k, v in labels.items()
        ])


def _check_labels(labels: Mapping[str, Any]) -> None:
    for key, value in labels.items():
        if not isinstance(key, str) or not key or len(key) > 200:
            raise InvalidName(f"label key {key!r} must be a non-empty string of at most 200 characters")
        if not isinstance(value, str) or len(value) > 500:
            raise InvalidName(f"label {key}={value!r:.60} must be a string of at most 500 characters")


def _name_is(table: Any, project: str | None, name: str | None) -> ColumnElement[bool]:
    return and_(table.c.project == project, table.c.name == name)


def _manifest(row: Any) -> Manifest:
    body = dict(row.manifest)
    body.update(version=row.version, labels=dict(row.labels), description=row.description,
                user_metadata=dict(row.user_metadata), step_run_id=row.step_run_id)
    body.pop("format", None)
    body.pop("format_version", None)
    try:
        return Manifest(**body)
    except TypeError as exc:
        raise CatalogError(f"catalog row for artifact {row.id} is unreadable: {exc}") from exc


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _encode_cursor(row: Any) -> str:
    raw = json.dumps([row.created.isoformat(), row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, last_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(created), str(last_id)
    except (ValueError, TypeError) as exc:
        raise InvalidName(f"invalid page cursor {cursor!r:.60}; use the next_cursor of a page") from exc
