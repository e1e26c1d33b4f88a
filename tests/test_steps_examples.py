"""The examples run as a user would run them: the quickstart from a fresh folder, the stack file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import flow_artifacts as fa
from flow_artifacts.stack.file import read_stack_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FLOW_ARTIFACTS_")}


def test_quickstart_runs_from_a_fresh_folder_and_hits_the_cache_the_second_time(tmp_path):
    def quickstart() -> str:
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / "quickstart.py")],
            cwd=tmp_path,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = quickstart()
    for fragment in (
        "completed",
        "store://quickstart/report@1",
        "builtins.json",
        "store://quickstart/model@1",
        "cloudpickle",
        "store://quickstart/train@1",
        "pandas.parquet",
        "where the report came from",
        "└── step evaluate",
        "graph LR",
    ):
        assert fragment in first, fragment
    assert (tmp_path / ".flow_artifacts" / "catalog.db").is_file()
    assert (tmp_path / ".flow_artifacts" / "quickstart" / "houses.csv").is_file()
    assert [p.name for p in tmp_path.iterdir()] == [".flow_artifacts"]

    second = quickstart()
    fit_row = next(line for line in second.splitlines() if line.startswith("fit "))
    assert fit_row.split()[1:3] == ["completed", "True"]
    assert "store://quickstart/model@1" in second and "store://quickstart/report@2" in second

    stack = fa.Stack.local(tmp_path / ".flow_artifacts")
    report = fa.get_artifact("store://quickstart/report", stack=stack).load()
    assert report["rows"] > 0 and 0.9 < report["r2"] <= 1
    stack.close()


def test_the_example_stack_file_dev_stack_runs_a_pipeline(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOW_ARTIFACTS_DISABLED", raising=False)
    copy = tmp_path / "stack.yaml"
    shutil.copy(EXAMPLES / "stack.yaml", copy)
    dev = fa.Stack.from_yaml(copy)
    assert (dev.name, dev.project, dev.allow_pickle) == ("dev", "demo", True)
    assert dev.store.url == str(tmp_path / ".flow_artifacts" / "artifacts")

    @fa.step
    def frame() -> pd.DataFrame:
        return pd.DataFrame({"a": [1, 2]})

    with fa.run(stack=copy) as run:
        frame()
    assert run.project == "demo" and run.stack.source == str(copy)
    assert run.artifacts["frame"].path.startswith(str(tmp_path / ".flow_artifacts"))
    dev.close()


def test_the_example_stack_file_prod_stack_is_valid(tmp_path):
    environ = {
        "S3_ENDPOINT": "https://s3.example.com",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEY",
        "AWS_SECRET_ACCESS_KEY": "example-secret-access-key",
        "CATALOG_PASSWORD": "example-catalog-password",
    }
    prod = read_stack_config(EXAMPLES / "stack.yaml", "prod", environ=environ)
    assert prod.store_url == "s3://ml-artifacts/flow"
    assert prod.storage_options["endpoint_url"] == "https://s3.example.com"
    assert prod.catalog_url.endswith("@catalog.internal:5432/flow")
    assert prod.path_template == "{project}/{date}/{run_id}/{step}/{name}"
    assert prod.disabled_plugins == ("cloudpickle_object",) and prod.allow_pickle is False
    assert "cloudpickle" not in prod.plugins.materializers
    shown = repr(prod)
    for secret in ("AKIAEXAMPLEKEY", "example-secret-access-key", "example-catalog-password"):
        assert secret in prod.secrets and secret not in shown

    without = {k: v for k, v in environ.items() if k != "S3_ENDPOINT"}
    with pytest.raises(
        fa.ConfigError,
        match="key 'stacks.prod.artifact_store.storage_options."
        "endpoint_url': environment variable S3_ENDPOINT is not set",
    ):
        read_stack_config(EXAMPLES / "stack.yaml", "prod", environ=without)
