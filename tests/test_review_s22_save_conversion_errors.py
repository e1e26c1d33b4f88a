"""A value its column type cannot convert fails a driver-path statement as it fails
SQLAlchemy's: a `StatementError` (a `SQLAlchemyError`), which callers catch to skip one row
(reindex skips a planted manifest) instead of aborting the whole transaction."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.exc import StatementError

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from flow_artifacts.catalog import schema as t
from flow_artifacts.catalog.database import write
from flow_artifacts.catalog.driver_writes import execute, execute_many
from flow_artifacts.catalog.run_writes import Known, ensure_project
from flow_artifacts.manifest import MANIFEST_SUFFIX

# Aware, so it passes the manifest checks, but out of range once converted to UTC.
TOO_EARLY = "0001-01-01T00:00:00+01:00"


def test_a_planted_manifest_whose_time_cannot_be_stored_is_skipped_by_reindex(stack):
    fa.materialize(b"good", "good", "r1", "s", "demo", stack=stack)
    fa.materialize(b"bad", "bad", "r1", "s", "demo", stack=stack)
    path = Path(stack.store.full_path("demo/r1/s/bad" + MANIFEST_SUFFIX))
    body = json.loads(path.read_text())
    path.write_text(json.dumps({**body, "created": TOO_EARLY}))
    with stack.catalog.engine.begin() as conn:  # a catalog that lost both rows
        for table in (t.labels, t.artifacts, t.artifact_names):
            conn.execute(table.delete())

    report = fa.reindex(stack=stack)

    assert report.added == 1
    assert report.skipped == [("demo/r1/s/bad" + MANIFEST_SUFFIX, "date value out of range")]
    assert fa.load("demo/good", stack=stack) == b"good"


@pytest.mark.parametrize("many", [False, True])
def test_a_parameter_its_type_refuses_raises_what_sqlalchemy_raises(tmp_path, many):
    too_early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    row = {"name": "demo", "created": too_early}
    raised = []
    for url in ("sqlite://", f"sqlite:///{tmp_path / 'c.db'}"):  # SQLAlchemy's, the driver's
        catalog = Catalog(url)

        def work(conn):
            ensure_project(conn, Known(), "other")
            if many:
                execute_many(conn, t.projects.insert(), [row])
            else:
                execute(conn, t.projects.insert(), row)

        try:
            with pytest.raises(StatementError, match="date value out of range") as info:
                write(catalog.engine, work)
            raised.append(type(info.value))
            with catalog.engine.connect() as conn:  # nothing of the transaction is left
                assert conn.execute(t.projects.select()).all() == []
        finally:
            catalog.close()
    assert raised[0] is raised[1]
