"""Journal records applied to a catalog by `reindex`, each in its own transaction.

Every replay runs the same SQL as the live change (`changes.py`, `runs.py`) and is idempotent, so
replaying a whole journal over a catalog that already holds its changes leaves it as it was. A
change to an artifact that is not in the catalog (deleted later, or its manifest unusable) is
skipped: the delete or the manifest problem is what reindex reports.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from ..errors import FlowArtifactsError
from . import schema as t
from .changes import apply_update, delete_artifacts, insert_aspect, remove_tag, set_tag
from .database import write
from .runs import (
    _RUN_PK,
    add_step_inputs,
    finish_run_row,
    finish_step_run_row,
    insert_step_run_row,
    start_run_row,
)

if TYPE_CHECKING:
    from .catalog import Catalog


class Change(Protocol):
    op: str
    at: datetime
    fields: dict[str, Any]


def replay(catalog: Catalog, change: Change, *, runs: bool) -> str | None:
    """Apply one record (`runs`: its run part, else its artifact part); a problem, or None."""
    table = _RUN_STEPS if runs else _ARTIFACT_STEPS
    step = table.get(change.op)
    if step is None:
        return None
    try:
        return write(catalog.engine, lambda conn: step(conn, change.fields, change.at))
    except (FlowArtifactsError, SQLAlchemyError) as exc:
        return f"could not apply {change.op}: {str(exc).splitlines()[0]}"


def _run_start(conn: Connection, fields: dict[str, Any], at: datetime) -> None:
    start_run_row(conn, fields, at)


def _step_run_start(conn: Connection, fields: dict[str, Any], at: datetime) -> str | None:
    run = {**fields["run"], "project": fields["project"], "run_id": fields["run_id"]}
    start_run_row(conn, run, run["started"], take_over=False)  # only if the run is missing
    run_pk = conn.execute(
        _RUN_PK, {"project": run["project"], "run_id": run["run_id"]}
    ).scalar_one()
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
        insert_step_run_row(conn, run_pk, fields, at, ignore=True)
    return None


def _step_run_end(conn: Connection, fields: dict[str, Any], at: datetime) -> str | None:
    if not _exists(conn, t.step_runs, fields["id"]):
        return f"step run {fields['id']} ended, but its start is not in the journal"
    finish_step_run_row(conn, fields, at)
    return None


def _step_inputs(conn: Connection, fields: dict[str, Any], at: datetime) -> None:
    if _exists(conn, t.step_runs, fields["id"]):
        a = t.artifacts
        present = conn.execute(select(a.c.id).where(a.c.id.in_(fields["inputs"]))).scalars()
        add_step_inputs(conn, fields["id"], list(present))


def _tag(conn: Connection, fields: dict[str, Any], at: datetime) -> str | None:
    a = t.artifacts
    row = conn.execute(select(a.c.project, a.c.name).where(a.c.id == fields["artifact_id"])).first()
    if row is None:  # deleted since, and the tag with it; but it did leave its old version
        remove_tag(conn, fields["project"], fields["name"], fields["tag"])
        return None
    if (row.project, row.name) != (fields["project"], fields["name"]):
        return f"tag {fields['tag']!r} names another artifact than {fields['artifact_id']}"
    set_tag(conn, fields["project"], fields["name"], fields["tag"], fields["artifact_id"], at)
    return None


def _untag(conn: Connection, fields: dict[str, Any], at: datetime) -> None:
    remove_tag(conn, fields["project"], fields["name"], fields["tag"])


def _update(conn: Connection, fields: dict[str, Any], at: datetime) -> None:
    apply_update(conn, fields["artifact_id"], fields["labels"], fields["description"])


def _aspect(conn: Connection, fields: dict[str, Any], at: datetime) -> None:
    if not _exists(conn, t.artifacts, fields["artifact_id"]):
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


def _delete(conn: Connection, fields: dict[str, Any], at: datetime) -> None:
    delete_artifacts(conn, [fields["artifact_id"]])
    if fields["step_run_id"] is not None:  # its step run's inputs outlive it
        _step_inputs(conn, {"id": fields["step_run_id"], "inputs": fields["inputs"]}, at)


def _exists(conn: Connection, table: Any, key: str) -> bool:
    return conn.execute(select(table.c.id).where(table.c.id == key)).first() is not None


Step = Callable[[Connection, dict[str, Any], datetime], "str | None"]
_RUN_STEPS: dict[str, Step] = {
    "run_start": _run_start,
    "run_end": lambda conn, fields, at: finish_run_row(conn, fields, at),
    "step_run_start": _step_run_start,
    "step_run_end": _step_run_end,
}
_ARTIFACT_STEPS: dict[str, Step] = {
    "step_run_start": _step_inputs,
    "tag": _tag,
    "untag": _untag,
    "update": _update,
    "aspect": _aspect,
    "delete": _delete,
}
