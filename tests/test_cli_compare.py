"""`flow-artifacts diff` (artifacts and runs) and `run show`, as a user runs them."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import flow_artifacts as fa
from flow_artifacts.cli.main import cli


def run(*args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output + result.stderr
    return result


@pytest.fixture
def catalog(tmp_path, monkeypatch):
    """A table whose v2 adds, drops and retypes columns; two versions of a metrics report;
    two runs of a pipeline, the second with another parameter and a failing step."""
    monkeypatch.chdir(tmp_path)
    v1 = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [1, 2, 3]})
    v2 = pd.DataFrame({"a": [1.5, 2.5, 3.5, 4.5], "b": ["x", "y", "z", "w"], "d": [0, 0, 0, 0]})
    fa.materialize(v1, "table", "r1", "prep", "demo", labels={"team": "risk"})
    t2 = fa.materialize(v2, "table", "r2", "prep", "demo", labels={"team": "ops"})
    fa.tag(t2, "prod")
    fa.materialize({"acc": 0.8, "n": 10, "per_class": {"x": 1}}, "metrics", "r1", "eval", "demo")
    fa.materialize({"acc": 0.9, "n": 10, "extra": [1]}, "metrics", "r2", "eval", "demo")

    @fa.step(outputs="out")
    def make(k: int) -> dict:
        if k > 2:
            raise ValueError(f"k={k} is too big")
        return {"k": k}

    @fa.step(outputs="total")
    def total(out: dict) -> dict:
        return {"total": out["k"] * 2}

    @fa.pipeline(project="demo")
    def flow(k: int) -> Any:
        return total(make(k))

    flow(1)
    with pytest.raises(ValueError):
        flow(3)
    failed, first = fa.get_stack().catalog.runs("demo", limit=2)
    return {"first": first, "failed": failed}


def test_diff_shows_schema_changes_rows_labels_and_tags(catalog):
    found = json.loads(run("diff", "demo/table@1", "demo/table@2", "--json").stdout)
    assert found["a"]["ref"] == "demo/table@1" and found["b"]["ref"] == "demo/table@2"
    schema = found["schema"]
    assert schema["added"] == [{"name": "d", "type": "int64"}]
    assert schema["removed"] == [{"name": "c", "type": "int64"}]
    assert schema["retyped"] == [{"name": "a", "a": "int64", "b": "double"}]
    fields = {f["field"]: f for f in found["fields"]}
    assert fields["rows"]["delta"] == 1 and not fields["checksum"]["same"]
    assert fields["kind"]["same"]
    assert found["labels"]["changes"] == [
        {"path": "team", "change": "changed", "a": "risk", "b": "ops"}
    ]
    assert found["tags"] == {"a": [], "b": ["prod"]}
    assert found["content"] is None
    text = run("diff", "demo/table@1", "demo/table:prod").stdout
    assert "+ d (int64)" in text and "- c (int64)" in text and "~ a: int64 -> double" in text
    assert "team: risk -> ops" in text
    stats = text.split("column statistics\n", 1)[1].splitlines()
    assert stats[0].split() == ["COLUMN", "NULLS", "DISTINCT", "MIN", "MAX"]
    rows = {line.split()[0]: line for line in stats[1:5]}
    assert "1 -> 1.5 (+0.5)" in rows["a"] and "3 -> 4 (+1)" in rows["a"]
    assert rows["c"].split()[1:3] == ["0", "->"] and "- -> 0" in rows["d"]


def test_diff_of_json_reports_gives_numeric_deltas(catalog):
    found = json.loads(run("diff", "demo/metrics@1", "demo/metrics@2", "--json").stdout)
    changes = {c["path"]: c for c in found["content"]["changes"]}
    assert changes["acc"]["delta"] == pytest.approx(0.1)
    assert changes["per_class"]["change"] == "removed"
    assert changes["extra"] == {"path": "extra", "change": "added", "a": None, "b": [1]}
    assert "n" not in changes
    text = run("diff", "demo/metrics@1", "demo/metrics@2").stdout
    assert "~ acc: 0.8 -> 0.9 (+0.1" in text
    same = json.loads(run("diff", "demo/metrics@2", "demo/metrics@2", "--json").stdout)
    assert same["content"]["same"] and all(f["same"] for f in same["fields"])


def test_diff_of_a_missing_artifact_is_a_clear_error(catalog):
    result = run("diff", "demo/table@1", "demo/table@9", ok=False)
    assert result.exit_code == 1 and "table" in result.stderr and "Traceback" not in result.stderr


def test_diff_runs_compares_params_statuses_and_outputs(catalog):
    first, failed = catalog["first"], catalog["failed"]
    found = json.loads(
        run("diff", "--runs", f"demo/{first.run_id}", failed.run_id, "--json").stdout
    )
    fields = {f["field"]: f for f in found["fields"]}
    assert fields["status"]["a"] == "completed" and fields["status"]["b"] == "failed"
    steps = {s["step"]: s for s in found["steps"]}
    assert steps["make"]["params"]["changes"][0]["delta"] == 2
    assert steps["make"]["b"]["status"] == "failed"
    assert steps["make"]["outputs"]["changes"][0]["change"] == "removed"
    assert steps["total"]["b"] is None
    text = run("diff", "--runs", first.run_id, failed.run_id).stdout
    assert "make" in text and "only in a" in text
    missing = run("diff", "--runs", first.run_id, "nope", ok=False)
    assert missing.exit_code == 1 and "nope" in missing.stderr


def test_run_show_prints_steps_with_names_and_the_error(catalog):
    first, failed = catalog["first"], catalog["failed"]
    text = run("run", "show", f"demo/{first.run_id}").stdout
    assert "demo/out@1" in text and "demo/total@1" in text and "completed" in text
    shown = run("run", "show", failed.run_id).stdout
    assert "failed" in shown and "ValueError: k=3 is too big" in shown
    detail = json.loads(run("run", "show", failed.run_id, "--json").stdout)
    assert [s["step"] for s in detail["steps"]] == ["make"]


def test_show_names_inputs_and_what_used_it(catalog):
    stack = fa.get_stack()
    out = stack.catalog.versions("demo", "out", page_size=1).items[0]
    total = json.loads(run("show", "demo/total@1", "--json").stdout)
    assert total["input_refs"] == ["demo/out@1"] and total["inputs"] == [out.id]
    shown = run("show", "demo/out@1").stdout
    assert "used_by" in shown and "demo/total@1" in shown
    assert out.id not in run("show", "demo/total@1").stdout.split("inputs", 1)[1].split("\n")[0]
    first, run_id = shown.splitlines()[0], catalog["first"].run_id
    assert first.split() == ["ref", "demo/out@1"] and "store://" not in shown
    assert f"run_id        {run_id[:8]}\n" in shown  # whole in the path below, and with --wide
    assert run_id in run("show", "demo/out@1", "--wide").stdout


def test_ls_and_lineage_print_short_run_ids_unless_wide(catalog):
    run_id = catalog["first"].run_id
    listing = run("ls", "demo", "--name", "total").stdout
    assert f"{run_id[:8]}/total" in listing and run_id not in listing
    assert run_id in run("ls", "demo", "--name", "total", "--wide").stdout
    tree = run("lineage", "demo/total@1").stdout
    assert f"step {run_id[:8]}/total" in tree and "demo/out@1" in tree and run_id not in tree
    assert f"step {run_id}/total" in run("lineage", "demo/total@1", "--wide").stdout
    assert "demo/total@1" in run("run", "show", run_id[:8]).stdout


def test_runs_filter_by_status_and_pipeline_and_page(catalog):
    failed = json.loads(run("runs", "demo", "--status", "failed", "--json").stdout)["items"]
    assert [r["run_id"] for r in failed] == [catalog["failed"].run_id]
    assert json.loads(run("runs", "--pipeline", "nope", "--json").stdout)["items"] == []
    first = run("runs", "demo", "--limit", "1")
    assert catalog["failed"].run_id[:8] in first.stdout and "more: --cursor" in first.stderr
    cursor = first.stderr.split("--cursor ")[1].strip()
    rest = json.loads(run("runs", "demo", "--limit", "5", "--cursor", cursor, "--json").stdout)[
        "items"
    ]
    assert catalog["first"].run_id in [r["run_id"] for r in rest]
    assert catalog["failed"].run_id not in [r["run_id"] for r in rest]


def test_structural_diff_survives_deep_nesting_and_caps_its_changes():
    from flow_artifacts.compare import MAX_CHANGES, structural

    deep_a: Any = 1
    deep_b: Any = 2
    for _ in range(5000):  # deeper than Python's recursion limit
        deep_a, deep_b = {"x": deep_a}, {"x": deep_b}
    [change] = structural(deep_a, deep_b)["changes"]
    assert change["path"].count("x") == 5000 and change["delta"] == 1
    many = structural({str(i): i for i in range(2000)}, {str(i): -i for i in range(1, 2001)})
    assert many["truncated"] and len(many["changes"]) == MAX_CHANGES
    assert structural({"a": True}, {"a": 1})["changes"][0]["change"] == "changed"
    assert "delta" not in structural({"a": True}, {"a": 2})["changes"][0]
    assert structural([1, 2], [1, 2, 3])["changes"] == [
        {"path": "[2]", "change": "added", "a": None, "b": 3}
    ]


def test_diff_of_a_tampered_report_is_an_integrity_error(catalog):
    from pathlib import Path

    art = fa.get_artifact("demo/metrics@2")
    Path(art.path).write_bytes(b'{"acc": 1.0, "n": 10, "extra": [9]}')
    result = run("diff", "demo/metrics@1", "demo/metrics@2", ok=False)
    assert result.exit_code == 1 and "verify" in result.stderr
    assert "Traceback" not in result.stderr


def test_equal_reports_under_checksums_of_two_algorithms_compare_as_same(catalog, monkeypatch):
    from flow_artifacts import hashing

    report = {"acc": 0.95, "n": 12}
    monkeypatch.setattr(hashing, "CHECKSUM_ALGORITHM", "sha256")  # as written before BLAKE3
    fa.materialize(report, "scores", "r1", "eval", "demo")
    monkeypatch.setattr(hashing, "CHECKSUM_ALGORITHM", "blake3")
    fa.materialize(report, "scores", "r2", "eval", "demo")
    found = json.loads(run("diff", "demo/scores@1", "demo/scores@2", "--json").stdout)
    assert found["content"] == {"changes": [], "truncated": False, "same": True}
    fields = {f["field"]: f for f in found["fields"]}
    assert not fields["checksum"]["same"]  # the checksums themselves do differ


def test_a_report_written_indented_before_compares_same_as_one_written_now(catalog, monkeypatch):
    from flow_artifacts.materializers import json_report

    report = {"acc": 0.95, "per_class": {"x": [1, 2.5]}, "notes": "e"}
    with monkeypatch.context() as old:  # as reports were written before: indent=1
        old.setattr(json_report, "_encode", lambda obj: json.dumps(obj, indent=1))
        before = fa.materialize(report, "nested", "r1", "eval", "demo")
    now = fa.materialize(report, "nested", "r2", "eval", "demo")
    assert before.checksum != now.checksum  # other layout, same report
    assert before.load() == now.load() == report
    found = json.loads(run("diff", "demo/nested@1", "demo/nested@2", "--json").stdout)
    assert found["content"] == {"changes": [], "truncated": False, "same": True}

    retyped = fa.materialize({**report, "acc": 1}, "nested", "r3", "eval", "demo")
    fa.materialize({**report, "acc": 1.0}, "nested", "r4", "eval", "demo")
    found = json.loads(run("diff", "demo/nested@3", "demo/nested@4", "--json").stdout)
    assert found["content"]["same"] is False  # 1 and 1.0 are equal in Python, not as written
    assert retyped.load()["acc"] == 1


def test_a_report_file_reads_one_item_per_line_and_a_flat_one_as_before(catalog) -> None:
    from pathlib import Path

    flat = {"acc": 0.95, "n": 12, "name": "é", "ok": None}
    art = fa.materialize(flat, "flat", "r1", "eval", "demo")
    assert Path(art.path).read_text("utf-8") == json.dumps(flat, ensure_ascii=False, indent=1)
    nested = {"acc": 0.9, "rows": [{"id": 1}, {"id": 2}], "empty": {}}
    art = fa.materialize(nested, "nested", "r1", "eval", "demo")
    lines = Path(art.path).read_text("utf-8").splitlines()
    assert lines == [
        "{",
        ' "acc": 0.9,',
        ' "rows": [{"id": 1},',
        ' {"id": 2}],',
        ' "empty": {}',
        "}",
    ]
    for value in ([1, {"a": "b"}], "text", 3, None, {}):
        assert fa.materialize(value, "other", "r1", "eval", "demo").load() == value
