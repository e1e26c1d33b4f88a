"""Materializer options set once: per materializer in the stack file (or `Stack(...)`), per step
and per step output, with a call's own options winning; every mistake refused before a byte."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import flow_artifacts as fa
from flow_artifacts.steps.stack_spec import StackSpec


@pytest.fixture(autouse=True)
def _in_tmp(monkeypatch, tmp_path):
    for var in (
        "FLOW_ARTIFACTS_STACK",
        "FLOW_ARTIFACTS_DISABLED",
        "FLOW_ARTIFACTS_DISABLE_PLUGINS",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def stack_file(folder: Path, text: str, name: str = "flow_artifacts.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


ZSTD_STACK = """
project: demo
materializer_options:
  pandas.parquet: {compression: zstd}
  pyarrow.parquet: {compression: none}
"""


def codec(art: fa.Artifact) -> str:
    """The codec the Parquet file itself says it was written with."""
    return pq.ParquetFile(art.path).metadata.row_group(0).column(0).compression


def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": range(100), "b": ["x"] * 100})


def nothing_stored(stack: fa.Stack) -> bool:
    root = Path(stack.store.root)
    files = [p.relative_to(root) for p in root.rglob("*") if p.is_file()] if root.exists() else []
    data = [f for f in files if f.parts[0] != ".flow-artifacts"]
    return data == [] and list(fa.list_artifacts(stack=stack)) == []


def test_the_stack_file_sets_each_materializers_options(tmp_path):
    stack = fa.Stack.from_yaml(stack_file(tmp_path, ZSTD_STACK))
    art = fa.materialize(frame(), "clean", "r1", "prep", stack=stack)
    assert codec(art) == "ZSTD" and art.manifest.metadata["compression"] == "zstd"
    table = fa.materialize(pa.table({"a": [1, 2]}), "t", "r1", "prep", stack=stack)
    assert codec(table) == "UNCOMPRESSED"
    # options of one materializer never reach another: JSON takes no compression, and is fine
    report = fa.materialize({"rows": 100}, "report", "r1", "prep", stack=stack)
    assert fa.load(report, stack=stack) == {"rows": 100}
    pd.testing.assert_frame_equal(fa.load(art, stack=stack), frame())


def test_the_discovered_stack_file_applies_to_plain_calls(tmp_path):
    stack_file(tmp_path, ZSTD_STACK)
    art = fa.materialize(frame(), "clean", "r1", "prep")
    assert codec(art) == "ZSTD"


def test_a_calls_options_win_per_option_over_the_stacks(tmp_path):
    stack = fa.Stack.from_yaml(stack_file(tmp_path, ZSTD_STACK))
    art = fa.materialize(
        frame(), "clean", "r1", "prep", materializer_options={"compression": "snappy"}, stack=stack
    )
    assert codec(art) == "SNAPPY"
    again = fa.materialize(frame(), "clean", "r2", "prep", stack=stack)
    assert codec(again) == "ZSTD"  # the call changed nothing for the next one
    batch = fa.materialize_many(
        {"x": frame(), "y": frame()}, "r3", "split", materializer_options={"compression": "lz4"},
        stack=stack,
    )  # fmt: skip
    assert {codec(a) for a in batch.values()} == {"LZ4"}


def test_options_given_in_code_and_shown_by_the_cli(tmp_path):
    from click.testing import CliRunner

    from flow_artifacts.cli.main import cli

    local = fa.Stack.local(tmp_path / ".fa")
    stack = fa.Stack(
        store=local.store,
        catalog=local.catalog,
        materializer_options={"pandas.parquet": {"compression": "zstd"}},
    )
    assert codec(fa.materialize(frame(), "clean", "r1", "prep", stack=stack)) == "ZSTD"
    with pytest.raises(fa.ConfigError, match=r"materializer_options\['pandas\.parket'\]"):
        fa.Stack(
            store=local.store, catalog=local.catalog, materializer_options={"pandas.parket": {}}
        )
    stack_file(tmp_path, ZSTD_STACK)
    shown = CliRunner().invoke(cli, ["stack", "show", "--json"], catch_exceptions=False)
    assert json.loads(shown.stdout)["materializer_options"] == {
        "pandas.parquet": {"compression": "zstd"},
        "pyarrow.parquet": {"compression": "none"},
    }


def test_workers_open_the_stack_with_its_options(tmp_path):
    local = fa.Stack.local(tmp_path / ".fa")
    options = {"pandas.parquet": {"compression": "zstd"}}
    stack = fa.Stack(store=local.store, catalog=local.catalog, materializer_options=options)
    assert StackSpec.of(stack).open().materializer_options == options
    from_file = fa.Stack.from_yaml(stack_file(tmp_path, ZSTD_STACK))
    assert StackSpec.of(from_file).open().materializer_options == from_file.materializer_options


BAD = {
    "unknown materializer": (
        "materializer_options:\n  pandas.parket: {compression: zstd}\n",
        [
            "line 2",
            "key 'materializer_options.pandas.parket'",
            "unknown materializer",
            "allowed: ",
            "pandas.parquet",
        ],
    ),
    "bad value": (
        "materializer_options:\n  pandas.parquet: {compression: gzip}\n",
        ["key 'materializer_options.pandas.parquet.compression'", "cannot be 'gzip'", "'zstd'"],
    ),
    "unknown option": (
        "materializer_options:\n  pandas.parquet: {level: 3}\n",
        [
            "key 'materializer_options.pandas.parquet.level'",
            "takes no option 'level'",
            "it takes: compression",
        ],
    ),
    "not a mapping": (
        "materializer_options:\n  pandas.parquet: zstd\n",
        ["key 'materializer_options.pandas.parquet'", "expected a mapping, got a string"],
    ),
    "a list": (
        "materializer_options: [zstd]\n",
        ["key 'materializer_options'", "expected a mapping"],
    ),
    "a list value": (
        "materializer_options:\n  pandas.parquet: {compression: [zstd, lz4]}\n",
        ["cannot be a list"],
    ),
    "a nested value": (
        "materializer_options:\n  pandas.parquet: {compression: {codec: zstd}}\n",
        ["cannot be a dict"],
    ),
    "in a stack not in use": (
        "active: dev\nstacks:\n  dev: {}\n  prod:\n    materializer_options:\n"
        "      pandas.parquet: {compression: brotli}\n",
        [
            "line 6",
            "key 'stacks.prod.materializer_options.pandas.parquet.compression'",
            "cannot be 'brotli'",
        ],
    ),
}


@pytest.mark.parametrize(("text", "expected"), BAD.values(), ids=BAD.keys())
def test_a_bad_option_in_the_stack_file_is_refused_when_it_is_read(tmp_path, text, expected):
    path = stack_file(tmp_path, text)
    with pytest.raises(fa.ConfigError) as caught:
        fa.Stack.from_yaml(path)
    message = str(caught.value)
    assert message.startswith("flow_artifacts.yaml, line") and str(tmp_path) not in message
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in: {message}"
    assert "<" not in message  # no reprs
    assert not (tmp_path / ".flow_artifacts").exists()  # no store, no catalog: nothing written


def test_options_named_like_credentials_are_refused_and_never_shown(tmp_path, monkeypatch):
    secret = "sk-live-5f1e2d3c4b5a69788796a5b4"
    path = stack_file(tmp_path, f"materializer_options:\n  pandas.parquet: {{api_key: {secret}}}\n")
    with pytest.raises(fa.ConfigError, match="'api_key' is named like a credential") as caught:
        fa.Stack.from_yaml(path)
    assert secret not in str(caught.value)
    monkeypatch.setenv("PARQUET_TOKEN", secret)
    path = stack_file(
        tmp_path, "materializer_options:\n  pandas.parquet: {compression: '${PARQUET_TOKEN}'}\n"
    )
    with pytest.raises(fa.ConfigError, match="looks like a secret") as caught:
        fa.Stack.from_yaml(path)
    assert secret not in str(caught.value)


def test_a_huge_or_odd_value_gives_a_short_message(tmp_path):
    for value in ["z" * 200_000, "2024-01-01", "1e400", "~", "'\\u202e'"]:
        path = stack_file(
            tmp_path, f"materializer_options:\n  pandas.parquet: {{compression: {value}}}\n"
        )
        with pytest.raises(fa.ConfigError, match="option 'compression' cannot be") as caught:
            fa.Stack.from_yaml(path)
        assert len(str(caught.value)) < 400
    odd_id = "x" * 1000
    path = stack_file(tmp_path, f"materializer_options:\n  {odd_id}: {{compression: zstd}}\n")
    with pytest.raises(fa.ConfigError, match="unknown materializer") as caught:
        fa.Stack.from_yaml(path)
    assert odd_id not in str(caught.value)


def test_variables_in_option_values_are_checked_once_expanded(tmp_path, monkeypatch):
    text = """
    active: prod
    stacks:
      dev: {}
      prod:
        materializer_options:
          pandas.parquet: {compression: "${PARQUET_CODEC:-zstd}"}
    """
    path = stack_file(tmp_path, text)
    stack = fa.Stack.from_yaml(path)
    assert stack.materializer_options == {"pandas.parquet": {"compression": "zstd"}}
    monkeypatch.setenv("PARQUET_CODEC", "gzip")
    with pytest.raises(fa.ConfigError, match="cannot be 'gzip'"):
        fa.Stack.from_yaml(path)
    assert fa.Stack.from_yaml(path, "dev").materializer_options == {}


# --- steps ------------------------------------------------------------------------------------


@pytest.fixture
def zstd_stack(tmp_path):
    stack = fa.Stack.from_yaml(stack_file(tmp_path, ZSTD_STACK))
    with fa.use_stack(stack):
        yield stack


def test_a_steps_options_apply_to_every_output_and_per_output(zstd_stack):
    @fa.step(
        outputs=("train", "test", "stats"),
        materializer_options={"compression": "snappy", "test": {"compression": "none"}},
        materializers={"stats": "pandas.parquet"},
    )
    def split():
        return frame(), frame(), frame()

    with fa.run() as run:
        split()
    codecs = {name: codec(a) for name, a in run.artifacts.items()}
    assert codecs == {"train": "SNAPPY", "test": "UNCOMPRESSED", "stats": "SNAPPY"}

    @fa.step
    def plain():
        return frame()

    with fa.run() as run:
        plain()
    assert codec(run.artifacts["plain"]) == "ZSTD"  # the stack's default


def test_a_single_outputs_options_go_by_the_step_or_its_output_name(zstd_stack):
    @fa.step(materializer_options={"compression": "lz4"})
    def prep():
        return frame()

    @fa.step(outputs="clean", materializer_options={"clean": {"compression": "none"}})
    def prep_named():
        return frame()

    with fa.run() as run:
        prep()
        prep()  # a second call's step run is prep_2; its options are still prep's
        prep_named()
    assert [codec(a) for a in run.artifacts.values()] == ["LZ4", "LZ4", "UNCOMPRESSED"]


def test_a_step_option_no_chosen_materializer_takes_stores_nothing(zstd_stack):
    @fa.step(outputs=("table", "report"), materializer_options={"compression": "zstd"})
    def report():
        return frame(), {"rows": 100}

    with pytest.raises(fa.ConfigError) as caught:
        with fa.run():
            report()
    message = str(caught.value)
    assert "step 'report', output 'report'" in message
    assert "'builtins.json' takes no option 'compression'" in message
    assert "nothing was stored" in message
    assert nothing_stored(zstd_stack)
    (step_run,) = zstd_stack.catalog.step_runs_of_run(
        "demo", zstd_stack.catalog.runs("demo")[0].run_id
    )
    assert step_run.status == "failed"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("zstd", "must be a mapping"),
        ({"train": "zstd"}, r"materializer_options\['train'\] names an output"),
        ({"valid": {"compression": "zstd"}}, "must name an output; outputs: train, test"),
        ({"api_key": "sk-live-abcdefghijkl"}, "'api_key' is named like a credential"),
        ({"train": {"password": "hunter2hunter2"}}, "'password' is named like a credential"),
        ({"compression": ["zstd"]}, "must be a string, number, true/false or None, got a list"),
        ({3: "zstd"}, "option names are strings, got a int"),
    ],
)
def test_bad_step_options_fail_when_decorating(options, message):
    with pytest.raises(fa.ConfigError, match=message) as caught:
        fa.step(outputs=("train", "test"), materializer_options=options)(lambda: None)
    assert "sk-live" not in str(caught.value) and "hunter2" not in str(caught.value)


def test_a_steps_options_are_part_of_its_cache_key(zstd_stack):
    def fit():
        return frame()

    zstd = fa.step(name="fit", cache=True, materializer_options={"compression": "zstd"})(fit)
    none = fa.step(name="fit", cache=True, materializer_options={"compression": "none"})(fit)
    with fa.run() as first:
        zstd()
    with fa.run() as second:
        zstd()
        none()
    assert [s.cached for s in second.steps] == [True, False]
    assert codec(first.artifacts["fit"]) == "ZSTD"
    assert codec(second.artifacts["fit_2"]) == "UNCOMPRESSED"


# --- Kedro ------------------------------------------------------------------------------------


def test_a_kedro_dataset_takes_materializer_options(zstd_stack, monkeypatch):
    from flow_artifacts_kedro import ArtifactDataset

    # outside a Kedro project (an earlier test in this process may have configured one)
    monkeypatch.setattr("kedro.framework.project.PACKAGE_NAME", None)

    ArtifactDataset(name="clean", materializer_options={"compression": "none"}).save(frame())
    ArtifactDataset(name="plain").save(frame())
    assert codec(fa.get_artifact("store://demo/clean")) == "UNCOMPRESSED"
    assert codec(fa.get_artifact("store://demo/plain")) == "ZSTD"
    with pytest.raises(fa.ConfigError, match="never credentials") as caught:
        ArtifactDataset(name="x", materializer_options={"sas_token": "sv=2024&sig=abcdef"})
    assert "sig=abcdef" not in str(caught.value)
    with pytest.raises(fa.ConfigError, match="must be a mapping"):
        ArtifactDataset(name="x", materializer_options="zstd")  # type: ignore[arg-type]
