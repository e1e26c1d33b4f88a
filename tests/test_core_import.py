"""`import flow_artifacts` stays light: heavy libraries load only when an object needs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("pandas", "pyarrow", "sqlalchemy", "polars")
STORE_ONLY = ("fsspec", "asyncio", "pluggy", "flow_artifacts.stores.store")
"""Loaded when a stack or store is first used, not with the public names: together they cost
more than the rest of the API's import."""


def imported_after(code: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """Which of `heavy` a fresh interpreter has imported after running `code`."""
    script = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_flow_artifacts_imports_no_heavy_library() -> None:
    assert imported_after("import flow_artifacts") == []


def test_a_bare_store_saving_plain_objects_imports_no_heavy_library() -> None:
    code = (
        "import uuid, flow_artifacts as fa\n"
        "store = fa.ArtifactStore(f'memory://light-{uuid.uuid4().hex}')\n"
        "a = store.materialize({'accuracy': 0.9}, 'metrics', 'r1', 'eval')\n"
        "assert store.load(a.key) == {'accuracy': 0.9}\n"
        "store.materialize(b'raw', 'blob', 'r1', 'eval')\n"
        "print(fa.PathTemplate, fa.InvalidName, fa.Artifact)"
    )
    assert imported_after(code) == []


def test_the_public_names_import_neither_heavy_libraries_nor_fsspec() -> None:
    code = "from flow_artifacts import materialize, materialize_many, load, step, pipeline"
    assert imported_after(code, HEAVY + STORE_ONLY) == []
