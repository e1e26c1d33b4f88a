"""Journal records applied to a catalog by `reindex`, all in the reindex's one transaction.

`Catalog.reindex_transaction` runs the whole reindex in one write transaction, so an interrupted
reindex leaves the catalog as it was and running it again gives what one uninterrupted run gives.
Each record (and each restored manifest, see `rebuild.py`) is applied in its own savepoint: one
that fails is rolled back alone and reported.

The catalog is the trust root and the journal untrusted input, so a record only ever adds to what
the catalog held before this reindex: it applies to the artifacts, runs and step runs that this
reindex created (its `Scope`) and never deletes or alters a row the catalog already held. A record
about such a row is history the catalog already holds and is passed over; one that contradicts
it (a tombstone of a row the catalog holds, a tag the catalog holds on another version) is
skipped and reported. Tombstones are settled before manifests are restored (`bury`): a tombstone
keeps its artifact's manifest from being restored only when its project, name and version are the
manifest's, and reserves a version only where the catalog has not handed out that name's
versions itself.

Every replay runs the same SQL as the live change (`changes.py`, `run_writes.py`) and is
idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from ..errors import FlowArtifactsError
from ..limits import MAX_VERSION
from . import schema as t
from .changes import apply_update, insert_aspect, set_tag, untag_name
from .database import insert_ignore
from .recording import reserve_version
from .records import name_is, now
from .run_writes import (
    RUN_PK,
    add_step_inputs,
    finish_run_row,
    finish_step_run_row,
    insert_step_run_row,
    retry_step_run_row,
    start_run_row,
)

if TYPE_CHECKING:
    from ..manifest import Manifest


class Change(Protocol):
    """A journal record as replay reads it (read-only, like `journal.JournalRecord`)."""

    @property
    def op(self) -> str: ...

    @property
    def at(self) -> datetime: ...

    @property
    def fields(self) -> dict[str, Any]: ...


@dataclass
class Scope:
    """What this reindex created: the only rows its records may change."""

    artifacts: set[str] = field(default_factory=set)
    runs: set[tuple[str, str]] = field(default_factory=set)
    step_runs: set[str] = field(default_factory=set)
    names: set[tuple[str, str]] = field(default_factory=set)
    """(project, name) whose version counter this reindex created: their tags follow the
    journal."""


def _guarded(conn: Connection, op: str, work: Callable[[Connection], str | None]) -> str | None:
    """`work` in a savepoint: a problem it returns or raises (then rolled back), or None."""
    try:
        with conn.begin_nested():
            return work(conn)
    except (FlowArtifactsError, SQLAlchemyError, ValueError, TypeError) as exc:
        message = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return f"could not apply {op}: {message[0] if message else type(exc).__name__}"


def held(conn: Connection, artifact_id: str) -> bool:
    """Whether the catalog holds a row of this artifact."""
    return _exists(conn, t.artifacts, artifact_id)


def replay(conn: Connection, change: Change, scope: Scope, *, runs: bool) -> str | None:
    """Apply one record (`runs`: its run part, else its artifact part); a problem, or None."""
    table = _RUN_STEPS if runs else _ARTIFACT_STEPS
    step = table.get(change.op)
    if step is None:
        return None
    return _guarded(conn, change.op, lambda c: step(c, change.fields, change.at, scope))


def bury(conn: Connection, change: Change, manifest: Manifest | None, scope: Scope) -> str | None:
    """Settle a tombstone before manifests are restored; a problem, or None when it holds (then
    `manifest`, the store's manifest of the same artifact if any, is not restored)."""
    f = change.fields
    claim = (f["project"], f["name"], f["version"])
    named = f"{f['project']}/{f['name']} version {f['version']}"
    if manifest is not None and (manifest.project, manifest.name, manifest.version) != claim:
        return (
            f"the delete of {f['artifact_id']} names {named}, but its manifest says "
            f"{manifest.project}/{manifest.name} version {manifest.version}: not followed"
        )
    if f["version"] >= MAX_VERSION:
        return f"the delete of {named} would leave the name no version to write: not followed"

    def work(conn: Connection) -> str | None:
        if _exists(conn, t.artifacts, f["artifact_id"]):
            return (
                f"artifact {f['artifact_id']} is in the catalog, which is authoritative: "
                "its delete record was not followed (a delete that did not commit?)"
            )
        n = t.artifact_names
        latest = conn.execute(
            select(n.c.latest_version).where(name_is(n, f["project"], f["name"]))
        ).scalar()
        if latest is not None and (f["project"], f["name"]) not in scope.names:
            if f["version"] > latest:
                return (
                    f"the catalog gave {f['project']}/{f['name']} versions up to {latest} "
                    f"only; the delete of version {f['version']} was not followed"
                )
            return None
        insert_ignore(conn, t.projects, [{"name": f["project"], "created": now()}])
        reserve_version(conn, *claim)
        scope.names.add((f["project"], f["name"]))
        return None

    return _guarded(conn, "delete", work)


def claim_names(conn: Connection, names: set[tuple[str, str]], scope: Scope) -> None:
    """Add to `scope` the names among `names` (of manifests about to be restored) that the
    catalog has no version counter for."""
    n = t.artifact_names
    for project, name in names - scope.names:
        if conn.execute(select(n.c.project).where(name_is(n, project, name))).first() is None:
            scope.names.add((project, name))


# --- runs and step runs ------------------------------------------------------------------------


def _run_start(conn: Connection, fields: dict[str, Any], at: datetime, scope: Scope) -> None:
    key = (fields["project"], fields["run_id"])
    if key not in scope.runs:
        if conn.execute(RUN_PK, {"project": key[0], "run_id": key[1]}).first() is not None:
            return  # the catalog holds this run
        scope.runs.add(key)
    start_run_row(conn, fields, at)


def _run_end(conn: Connection, fields: dict[str, Any], at: datetime, scope: Scope) -> None:
    if (fields["project"], fields["run_id"]) in scope.runs:
        finish_run_row(conn, fields, at)


def _step_run_start(
    conn: Connection, fields: dict[str, Any], at: datetime, scope: Scope
) -> str | None:
    run = {**fields["run"], "project": fields["project"], "run_id": fields["run_id"]}
    key = (run["project"], run["run_id"])
    run_pk = conn.execute(RUN_PK, {"project": key[0], "run_id": key[1]}).scalar()
    if run_pk is None:
        start_run_row(conn, run, run["started"], take_over=False)
        scope.runs.add(key)
        run_pk = conn.execute(RUN_PK, {"project": key[0], "run_id": key[1]}).scalar_one()
    s = t.step_runs
    holder = conn.execute(
        select(s.c.id).where(s.c.run_pk == run_pk, s.c.step == fields["step"])
    ).scalar()
    if holder is not None and holder != fields["id"]:
        return (
            f"step {fields['step']!r} of run {fields['run_id']!r} is already recorded "
            f"as step run {holder}; skipped {fields['id']}"
        )
    if holder is None:
        if _exists(conn, s, fields["id"]):
            return f"step run {fields['id']} is recorded for another run or step"
        insert_step_run_row(conn, run_pk, fields, at)
        scope.step_runs.add(fields["id"])
    return None


def _later_step_run_change(
    apply: Callable[[Connection, Mapping[str, Any], datetime], None], what: str
) -> Callable[[Connection, dict[str, Any], datetime, Scope], str | None]:
    """Replay of a change to a step run after its start (a retry, its end): applied only to a
    step run this reindex restored; one the catalog already held is left as it is."""

    def step(conn: Connection, fields: dict[str, Any], at: datetime, scope: Scope) -> str | None:
        if fields["id"] in scope.step_runs:
            apply(conn, fields, at)
        elif not _exists(conn, t.step_runs, fields["id"]):
            return f"step run {fields['id']} {what}, but its start is not in the journal"
        return None

    return step


_step_run_retry = _later_step_run_change(retry_step_run_row, "ran again")
_step_run_end = _later_step_run_change(finish_step_run_row, "ended")


# --- artifacts ---------------------------------------------------------------------------------


def _step_inputs(conn: Connection, fields: dict[str, Any], at: datetime, scope: Scope) -> None:
    """Lineage edges from a step run to the restored artifacts among its inputs."""
    restored = [i for i in fields["inputs"] if i in scope.artifacts]
    if restored and _exists(conn, t.step_runs, fields["id"]):
        add_step_inputs(conn, fields["id"], restored)


def _tag(conn: Connection, fields: dict[str, Any], at: datetime, scope: Scope) -> str | None:
    project, name, tag = fields["project"], fields["name"], fields["tag"]
    a = t.artifacts
    row = conn.execute(select(a.c.project, a.c.name).where(a.c.id == fields["artifact_id"])).first()
    if row is not None and (row.project, row.name) != (project, name):
        return f"tag {tag!r} names another artifact than {fields['artifact_id']}"
    if (project, name) not in scope.names:  # the catalog held this name: its tags win
        if fields["artifact_id"] in scope.artifacts:
            return f"tag {tag!r} of {project}/{name} not restored: the catalog holds that name"
        return None
    if fields["artifact_id"] not in scope.artifacts:
        untag_name(conn, project, name, tag, at)  # deleted since, and the tag with it
        return None
    set_tag(conn, project, name, tag, fields["artifact_id"], at)
    return None


def _untag(conn: Connection, fields: dict[str, Any], at: datetime, scope: Scope) -> None:
    if (fields["project"], fields["name"]) in scope.names:
        untag_name(conn, fields["project"], fields["name"], fields["tag"], at)


def _update(conn: Connection, fields: dict[str, Any], at: datetime, scope: Scope) -> None:
    if fields["artifact_id"] in scope.artifacts:
        apply_update(
            conn,
            fields["artifact_id"],
            fields["labels"],
            fields["description"],
            at,
            fields["metadata"],
        )


def _aspect(conn: Connection, fields: dict[str, Any], at: datetime, scope: Scope) -> None:
    if fields["artifact_id"] not in scope.artifacts:
        return
    x = t.aspects
    seen = conn.execute(
        select(x.c.pk).where(
            x.c.artifact_id == fields["artifact_id"],
            x.c.aspect == fields["aspect"],
            x.c.created == at,
        )
    ).first()
    if seen is None:
        body, schema = fields["body"], fields["json_schema"]
        insert_aspect(conn, fields["artifact_id"], fields["aspect"], body, schema, at)


def _delete(conn: Connection, fields: dict[str, Any], at: datetime, scope: Scope) -> None:
    """Settled by `bury`; what is left is its step run's inputs, which outlive it."""
    if fields["step_run_id"] is not None:
        _step_inputs(conn, {"id": fields["step_run_id"], "inputs": fields["inputs"]}, at, scope)


def _exists(conn: Connection, table: Any, key: str) -> bool:
    return conn.execute(select(table.c.id).where(table.c.id == key)).first() is not None


Step = Callable[[Connection, dict[str, Any], datetime, Scope], "str | None"]
_RUN_STEPS: dict[str, Step] = {
    "run_start": _run_start,
    "run_end": _run_end,
    "step_run_start": _step_run_start,
    "step_run_cached": _step_run_start,  # a cache hit's: its row carries its end
    "step_run_retry": _step_run_retry,
    "step_run_end": _step_run_end,
}
_ARTIFACT_STEPS: dict[str, Step] = {
    "step_run_start": _step_inputs,
    "step_run_cached": _step_inputs,
    "tag": _tag,
    "untag": _untag,
    "update": _update,
    "aspect": _aspect,
    "delete": _delete,
}
