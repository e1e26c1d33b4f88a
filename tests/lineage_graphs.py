"""Big lineage graphs bulk-inserted into a catalog, for the lineage tests and benchmark.

Materializing 100,000 artifacts through a store would take minutes; these rows are what
`materialize` and the step runs would have recorded, written in a few statements.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from flow_artifacts.catalog import Catalog, schema

BATCH = 5_000


def chain(catalog: Catalog, hops: int, project: str = "deep") -> list[str]:
    """Artifacts `a0` ... `a<hops>`, each made by a step run from the one before; their ids."""
    return _graph(catalog, project, hops + 1, lambda i: [i - 1] if i else [])


def web(catalog: Catalog, artifacts: int, project: str = "web", seed: int = 7) -> list[str]:
    """`artifacts` artifacts, each made by its own step run (so twice as many nodes) from the one
    before and two random earlier ones: many paths of many lengths lead to each node."""
    pick = random.Random(seed)

    def inputs(i: int) -> list[int]:
        return sorted({i - 1, pick.randrange(i), pick.randrange(i)}) if i else []

    return _graph(catalog, project, artifacts, inputs)


def _graph(catalog: Catalog, project: str, count: int, inputs: Any) -> list[str]:
    now = datetime.now(timezone.utc)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    steps = [str(uuid.uuid4()) for _ in range(count)]
    with catalog.engine.begin() as conn:
        conn.execute(schema.projects.insert().values(name=project, created=now))
        conn.execute(
            schema.runs.insert().values(
                project=project, run_id="bulk", status="external", started=now
            )
        )
        run_pk = conn.execute(schema.runs.select().where(schema.runs.c.project == project)).one().pk
    for start in range(0, count, BATCH):
        part = range(start, min(count, start + BATCH))
        with catalog.engine.begin() as conn:
            conn.execute(
                schema.step_runs.insert(),
                [
                    {
                        "id": steps[i],
                        "run_pk": run_pk,
                        "step": f"s{i}",
                        "status": "external",
                        "started": now,
                        "cached": False,
                    }
                    for i in part
                ],
            )
            conn.execute(
                schema.artifacts.insert(), [_row(project, i, ids[i], steps[i], now) for i in part]
            )
            edges = [
                {"step_run_id": steps[i], "artifact_id": ids[j]} for i in part for j in inputs(i)
            ]
            if edges:
                conn.execute(schema.step_inputs.insert(), edges)
    with catalog.engine.begin() as conn:
        conn.execute(
            schema.artifact_names.insert(),
            [{"project": project, "name": f"a{i}", "latest_version": 1} for i in range(count)],
        )
    return ids


def _row(project: str, i: int, artifact_id: str, step_run_id: str, now: datetime) -> dict[str, Any]:
    name = f"a{i}"
    created = now + timedelta(microseconds=i)
    manifest = {
        "id": artifact_id,
        "key": f"{project}/bulk/s{i}/{name}",
        "data_path": f"{project}/bulk/s{i}/{name}.json",
        "project": project,
        "name": name,
        "run_id": "bulk",
        "step": f"s{i}",
        "materializer": "builtins.json",
        "materializer_version": "1",
        "kind": "report",
        "mime_type": "application/json",
        "size": 2,
        "checksum": "sha256:" + "0" * 64,
        "created": created.isoformat(),
    }
    return {
        **{k: manifest[k] for k in ("id", "project", "name", "kind", "materializer", "key")},
        **{k: manifest[k] for k in ("data_path", "checksum", "size", "mime_type")},
        "version": 1,
        "store_url": "bulk",
        "labels": {},
        "description": "",
        "user_metadata": {},
        "manifest": manifest,
        "created": created,
        "step_run_id": step_run_id,
        "status": "committed",
    }
