"""The seed systems' artifact APIs called as their docs show them, and a newcomer's first hour
(issue 14): each test is the call a user of IVCAP, FlowyML, MLRun or Peak, or a reader of our
README and docs, writes."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from tests.test_docs import python_blocks

ROOT = Path(__file__).resolve().parent.parent


def _stack(tmp_path: Path, template: str | None = None) -> fa.Stack:
    store = fa.ArtifactStore(tmp_path / "artifacts", **({"template": template} if template else {}))
    return fa.Stack(store=store, catalog=Catalog(f"sqlite:///{tmp_path / 'catalog.db'}"))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flow_artifacts", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "FLOW_ARTIFACTS_STACK": ""},
        timeout=120,
    )


# --- IVCAP ---------------------------------------------------------------------------------------


def test_ivcap_as_local_file_keeps_an_explicit_path_without_with(local_stack, tmp_path):
    art = fa.materialize(b"jpeg bytes", "image", "r1", "s", "demo")
    path = art.as_local_file(tmp_path / "out.jpg", chunk_size=4)
    assert isinstance(path, Path) and path.read_bytes() == b"jpeg bytes"
    with art.as_local_file(tmp_path / "kept.jpg") as kept:
        pass
    assert kept.read_bytes() == b"jpeg bytes"  # an explicit path is the caller's: kept


def test_ivcap_as_local_file_temporary_copy_is_gone_after_with(local_stack):
    art = fa.materialize(b"x" * 10, "blob", "r1", "s", "demo")
    with art.as_local_file() as path:
        assert path.read_bytes() == b"x" * 10
    assert not path.exists() and not path.parent.exists()
    inner = art.as_local_file().parent / "blob.bin"  # the copy itself is dropped at once
    gc.collect()
    assert inner.read_bytes() == b"x" * 10  # kept until exit, so derived paths still work


@pytest.mark.parametrize("chunk_size", [-1, 0])
@pytest.mark.parametrize("where", ["local", "memory", "s3"])
def test_ivcap_as_stream_chunk_size_minus_one_is_one_chunk(where, chunk_size, tmp_path, request):
    if where == "s3":
        url, options = request.getfixturevalue("s3_bucket_url")
        store = fa.ArtifactStore(url, **options)
    elif where == "memory":
        store = fa.ArtifactStore(f"memory://seed-{os.getpid()}-{chunk_size}-{tmp_path.name}")
    else:
        store = fa.ArtifactStore(tmp_path / "store")
    art = store.materialize(b"0123456789" * 100, "blob", "r1", "s")
    assert list(art.as_stream(chunk_size=chunk_size)) == [b"0123456789" * 100]


def test_ivcap_add_metadata_takes_a_schema_id_or_dollar_schema(local_stack):
    art = fa.materialize({"a": 1}, "report", "r1", "s", "demo")
    same = art.add_metadata("metrics", {"f1": 0.9}, schema="urn:ivcap:schema:metrics.1")
    assert same is art
    art.add_metadata("owner", {"$schema": "urn:ivcap:schema:owner.1", "team": "risk"})
    schema = {"type": "object", "required": ["f1"]}
    art.add_metadata("checked", {"$schema": schema, "f1": 1.0})
    with pytest.raises(fa.FlowArtifactsError, match="does not match its schema"):
        art.add_metadata("checked", {"f2": 1.0}, schema=schema)
    with pytest.raises(fa.FlowArtifactsError, match="schema identifier"):
        art.add_metadata("bad", {"x": 1}, schema="")
    assert art.aspects["metrics"] == {"f1": 0.9}
    assert art.aspects["owner"]["team"] == "risk"


def test_ivcap_add_metadata_record_named_by_its_schema(local_stack, tmp_path):
    """IVCAP's own call: `add_metadata(aspect_dict, schema=None)`, the schema identifier naming the
    aspect (given, or the record's `$schema`); it survives a rebuild from the store alone."""
    art = fa.materialize({"a": 1}, "report", "r1", "s", "demo")
    assert art.add_metadata({"f1": 0.9}, schema="urn:ivcap:schema:metrics.1") is art
    art.add_metadata({"$schema": "urn:ivcap:schema:owner.1", "team": "risk"})
    assert art.aspects["urn:ivcap:schema:metrics.1"] == {"f1": 0.9}
    assert art.aspects["urn:ivcap:schema:owner.1"]["team"] == "risk"
    with pytest.raises(fa.FlowArtifactsError, match="named by its schema identifier"):
        art.add_metadata({"f1": 0.9})
    with pytest.raises(fa.FlowArtifactsError, match="aspect name and a body"):
        art.add_metadata(["not", "a", "record"])
    with pytest.raises(fa.FlowArtifactsError, match="invalid aspect"):
        art.add_metadata({"x": 1}, schema="urn:has space")

    rebuilt = fa.Stack.local(tmp_path / "rebuilt")
    rebuilt_catalog_only = fa.Stack(store=local_stack.store, catalog=rebuilt.catalog)
    report = fa.reindex(stack=rebuilt_catalog_only)
    assert not report.skipped
    again = fa.get_artifact("demo/report", stack=rebuilt_catalog_only)
    assert again.aspects["urn:ivcap:schema:metrics.1"] == {"f1": 0.9}


# --- FlowyML -------------------------------------------------------------------------------------


def test_flowyml_save_keeps_a_file_name_with_its_extension(tmp_path):
    store = fa.ArtifactStore(tmp_path / "store")
    art = store.save({"accuracy": 0.9}, "reports/metrics.json")
    assert (tmp_path / "store" / "reports" / "metrics.json").is_file()
    assert not list((tmp_path / "store").rglob("*.json.json"))
    assert store.load("reports/metrics.json") == {"accuracy": 0.9}
    assert store.get_metadata("reports/metrics.json")["id"] == art.id
    store.save({"a": 1}, "reports/summary")  # no extension: the format's is added
    assert (tmp_path / "store" / "reports" / "summary.json").is_file()


def test_flowyml_project_name_and_missing_metadata(tmp_path):
    store = fa.ArtifactStore(tmp_path / "store")
    art = store.materialize({"a": 1}, "m", "r1", "train", project_name="churn")
    assert art.project == "churn" and art.key.startswith("churn/")
    with pytest.raises(fa.ConfigError, match="disagree"):
        store.materialize({"a": 1}, "m", "r2", "train", "other", project_name="churn")
    assert store.get_metadata("churn/r9/train/none") is None


# --- MLRun ---------------------------------------------------------------------------------------


def test_mlrun_template_without_run_id_versions_the_path(tmp_path):
    stack = _stack(tmp_path, template="{project}/{step}/{name}")
    first = fa.materialize({"v": 1}, "model", "run-a", "train", "demo", stack=stack)
    second = fa.materialize({"v": 2}, "model", "run-b", "train", "demo", stack=stack)
    assert (first.version, second.version) == (1, 2)
    assert first.key == "demo/train/model" and second.key == "demo/train/model.v2"
    assert fa.load("store://demo/model@1", stack=stack) == {"v": 1}
    assert fa.load("store://demo/model", stack=stack) == {"v": 2}
    fa.reindex(stack=stack)  # the versioned path is an ordinary key to the store
    assert fa.load("store://demo/model@2", stack=stack) == {"v": 2}


def test_materializing_a_name_twice_in_one_run_gives_version_2(local_stack):
    fa.materialize(b"1", "clean", "r1", "prep", "demo")
    again = fa.materialize(b"2", "clean", "r1", "prep", "demo")
    assert again.version == 2 and again.key.endswith(".v2")


def test_readme_ten_lines_run_twice_gives_version_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOW_ARTIFACTS_STACK", raising=False)
    ten_lines = python_blocks(ROOT / "README.md")[0]
    for _ in range(2):
        exec(compile(ten_lines, "README ten lines", "exec"), {"__name__": "readme"})
    assert fa.get_artifact("store://demo/clean").version == 2


@pytest.mark.parametrize(
    "url", ["s3://bucket/projects/{{project}}/artifacts", "./artifacts/{project}"]
)
def test_mlrun_project_in_store_url_is_refused_when_the_stack_is_read(url, tmp_path):
    (tmp_path / "stack.yaml").write_text(f"artifact_store:\n  url: {url}\n")
    with pytest.raises(fa.ConfigError, match="path template") as caught:
        fa.Stack.from_yaml(tmp_path / "stack.yaml")
    assert "line 2" in str(caught.value)
    with pytest.raises(fa.ConfigError, match="path template"):
        fa.ArtifactStore(str(tmp_path / "{{project}}"))
    assert not (tmp_path / "{{project}}").exists()


def test_mlrun_kind_typo_is_an_error_naming_the_kinds(local_stack):
    fa.materialize(b"m", "model", "r1", "s", "demo", kind="model")
    with pytest.raises(fa.ConfigError, match="did you mean 'model'"):
        list(fa.list_artifacts(kind="models"))
    with pytest.raises(fa.ConfigError, match="dataset"):
        list(fa.list_artifacts(kind="datasets"))


def test_artifacts_record_owner_and_commit(local_stack, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@e", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    monkeypatch.chdir(repo)
    art = fa.materialize(b"x", "blob", "r1", "s", "demo")
    assert art.owner["commit"] == head.strip()
    assert art.owner["user"] and art.owner["host"]
    got = fa.get_artifact(art.uri)
    assert got.owner == art.owner and got.record()["owner"] == art.owner
    monkeypatch.chdir(tmp_path)  # outside a work tree: no commit, nothing guessed
    assert "commit" not in fa.materialize(b"y", "blob2", "r1", "s", "demo").owner


def test_peak_update_changes_metadata_records_updated_and_replays_exactly(tmp_path):
    stack = _stack(tmp_path)
    art = fa.materialize(b"x", "blob", "r1", "s", "demo", metadata={"a": 1, "b": 2}, stack=stack)
    assert art.updated is None
    updated = fa.update(art, metadata={"b": None, "c": [1, 2]}, stack=stack)
    assert updated.manifest.user_metadata == {"a": 1, "c": [1, 2]}
    assert updated.updated is not None and updated.updated >= art.created
    with pytest.raises(fa.FlowArtifactsError):
        fa.update(art, metadata={"x": float("nan")}, stack=stack)

    rebuilt = fa.Stack(store=stack.store, catalog=Catalog(f"sqlite:///{tmp_path / 'new.db'}"))
    report = fa.reindex(stack=rebuilt)
    assert not report.skipped
    again = fa.get_artifact(art.uri, stack=rebuilt)
    assert again.manifest.user_metadata == {"a": 1, "c": [1, 2]}
    assert again.updated == updated.updated


def test_listings_filter_by_run_id_and_count_a_total(local_stack):
    for i in range(3):
        fa.materialize({"i": i}, f"a{i}", "r1", "s", "demo")
    fa.materialize({"i": 9}, "b", "r2", "s", "demo")
    assert {a.name for a in fa.list_artifacts("demo", run_id="r1")} == {"a0", "a1", "a2"}
    page = fa.list_page("demo", page_size=2, total=True)
    assert page.total == 4 and len(page.items) == 2
    assert fa.list_page("demo", run_id="r2", total=True).total == 1
    assert fa.list_page("demo").total is None  # counting costs a query: only when asked


def test_latest_is_a_reserved_tag_meaning_the_newest_version(local_stack):
    first = fa.materialize(b"1", "m", "r1", "s", "demo")
    with pytest.raises(fa.InvalidName, match="reserved"):
        first.tag("latest")
    fa.materialize(b"2", "m", "r2", "s", "demo")
    assert fa.load("store://demo/m:latest") == b"2"
    assert fa.load("demo/m:latest") == b"2"


# --- Peak ----------------------------------------------------------------------------------------


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "app"
    (folder / "logs").mkdir(parents=True)
    (folder / "main.py").write_text("print(1)")
    (folder / "logs" / "x.log").write_text("log")
    (folder / "secret.env").write_text("K=V")
    return folder


def test_peak_folder_upload_honours_dockerignore(local_stack, tmp_path):
    folder = _folder(tmp_path)
    (folder / ".dockerignore").write_text("logs\n*.env\n")
    art = fa.upload_file(folder, "app", "demo")
    assert set(art.manifest.files) == {"main.py", ".dockerignore"}
    (folder / ".artifactignore").write_text("logs\n")  # ours wins over .dockerignore
    art = fa.upload_file(folder, "app2", "demo")
    assert "secret.env" in art.manifest.files and "logs/x.log" not in art.manifest.files


def test_peak_ignore_files_names_the_ignore_file(local_stack, tmp_path):
    folder = _folder(tmp_path)
    (folder / "deploy.ignore").write_text("logs\nsecret.env\ndeploy.ignore\n")
    art = fa.upload_file(folder, "app", "demo", ignore_files=["deploy.ignore"])
    assert set(art.manifest.files) == {"main.py"}
    with pytest.raises(fa.ConfigError, match="no such file"):
        fa.upload_file(folder, "app3", "demo", ignore_files=["deploy.ignor"])
    with pytest.raises(fa.ConfigError):
        fa.upload_file(folder, "app4", "demo", ignore_files=["../outside"])


def test_peak_download_into_an_existing_folder_writes_inside_it(local_stack, tmp_path):
    art = fa.materialize({"a": 1}, "report", "r1", "s", "demo")
    target = tmp_path / "downloads"
    target.mkdir()
    path = fa.download(art, target)
    assert path.parent == target and json.loads(path.read_text()) == {"a": 1}
    folder_art = fa.upload_file(_folder(tmp_path), "app", "demo")
    tree = fa.download(folder_art, target)
    assert (tree / "main.py").is_file() and tree.parent == target


# --- a newcomer's first hour ---------------------------------------------------------------------


def test_stack_accepts_a_path_and_path_hash_name_everywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stack.yaml").write_text(
        "stacks:\n  dev:\n    artifact_store:\n      url: ./dev-store\n"
        "    catalog:\n      url: sqlite:///dev.db\n"
    )
    spec = "stack.yaml#dev"
    art = fa.materialize({"a": 1}, "report", "r1", "s", "demo", stack=spec)
    assert fa.load("store://demo/report", stack=spec) == {"a": 1}
    assert fa.get_artifact("demo/report@1", stack=spec).id == art.id
    assert [a.id for a in fa.list_artifacts("demo", stack=spec)] == [art.id]
    assert fa.describe(art.uri, stack=spec).artifact.id == art.id
    fa.tag(art.uri, "prod", stack=spec)
    assert (tmp_path / "dev-store").is_dir()


def test_load_of_a_file_artifact_leaves_no_temporary_behind(tmp_path):
    script = """
import sys, flow_artifacts as fa
src = sys.argv[1] + "/f.txt"
open(src, "w").write("hi")
fa.upload_file(src, "f", "demo")
path = fa.load("store://demo/f")
print(path.parent)
assert path.read_text() == "hi"
with fa.load("store://demo/f") as inside:
    print(inside.parent)
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "FLOW_ARTIFACTS_STACK": ""},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    folders = [Path(line) for line in done.stdout.split()]
    assert len(folders) == 2 and not any(f.exists() for f in folders)


def test_cli_not_found_answers_exit_1_with_what_exists(tmp_path):
    stack = _stack(tmp_path)
    fa.materialize(b"x", "clean", "r1", "prep", "quickstart", stack=stack)
    fa.materialize(b"y", "clean", "r2", "prep", "quickstart", stack=stack).tag("prod")
    (tmp_path / "s.yaml").write_text(
        f"artifact_store:\n  url: {tmp_path / 'artifacts'}\ncatalog:\n"
        f"  url: sqlite:///{tmp_path / 'catalog.db'}\n"
    )
    cases = {
        ("ls", "quikstart"): "did you mean 'quickstart'",
        ("versions", "quickstart/claen"): "did you mean 'clean'",
        ("show", "quickstart/clean@7"): "versions: 1, 2; tags: prod",
        ("show", "store://quickstart/clean:prd"): "tags: prod",
    }
    for args, expected in cases.items():
        done = _cli(*args, "--stack", "s.yaml", cwd=tmp_path)  # options after the command
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert expected in done.stderr
        assert "Catalog(" not in done.stderr and str(tmp_path) not in done.stderr
    shown = _cli("show", "quickstart/clean", "--stack", "s.yaml", cwd=tmp_path)
    assert shown.returncode == 0 and "ref           quickstart/clean@2" in shown.stdout


def test_not_found_errors_show_no_reprs_or_paths(local_stack):
    fa.materialize(b"x", "clean", "r1", "prep", "demo")
    for ref in ("store://demo/claen", "store://demo/clean@9", "demo/x/y/z"):
        with pytest.raises(fa.ArtifactNotFound) as caught:
            fa.get_artifact(ref)
        message = str(caught.value)
        assert not re.search(r"Catalog\(|ArtifactStore\(|Stack\(|/tmp/", message), message


def test_load_version_download_dot_and_tags_without_spaces(local_stack, tmp_path, monkeypatch):
    fa.materialize({"v": 1}, "report", "r1", "s", "demo")
    fa.materialize({"v": 2}, "report", "r2", "s", "demo")
    assert fa.load("store://demo/report", version=1) == {"v": 1}
    monkeypatch.chdir(tmp_path)
    path = fa.download("store://demo/report", ".")
    assert path.resolve().parent == tmp_path.resolve()
    with pytest.raises(fa.InvalidName, match="white space"):
        fa.tag("store://demo/report", "my tag")
    with pytest.raises(fa.InvalidName):
        fa.load("store://demo/report", version=0)


def test_a_tuple_without_outputs_is_an_error_naming_the_fix(local_stack):
    @fa.step
    def split() -> tuple[int, int]:
        return 1, 2

    with pytest.raises(fa.FlowArtifactsError, match=r"outputs=\(\.\.\.\)"):
        split()
    assert not list(fa.list_artifacts())


def test_a_mixed_type_column_is_an_error_naming_the_column_and_fix(local_stack):
    frame = pd.DataFrame({"ok": [1, 2], "a": [1, "x"]})
    with pytest.raises(fa.FlowArtifactsError, match=r"'a' \(int, str\).*astype\(str\)"):
        fa.materialize(frame, "df", "r1", "s", "demo")
    assert not list(fa.list_artifacts())


# --- the README's and docs' plugin examples, installed as real packages --------------------------


def _install(site: Path, package: str, code: str) -> None:
    """`package` as an installed distribution: its module and a dist-info whose entry point in
    the group `flow_artifacts` names it, as pip would leave them (without pip's minutes)."""
    (site / f"{package}.py").write_text(code)
    info = site / f"{package}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[flow_artifacts]\n{package} = {package}\n")


def _plugin_block(document: str, marker: str) -> str:
    return next(b for b in python_blocks(ROOT / document) if marker in b)


def _run_with(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path, "FLOW_ARTIFACTS_STACK": ""},
        timeout=120,
    )


def test_readme_and_docs_plugin_examples_work_when_installed(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "text_plugin", _plugin_block("README.md", "class TextMaterializer"))
    _install(site, "ndjson_plugin", _plugin_block("docs/plugins.md", "class NdjsonMaterializer"))
    check = """
import flow_artifacts as fa
assert fa.explain("hi").materializer_id == "example.text", fa.explain("hi")
assert fa.explain([{"a": 1}]).materializer_id == "example.ndjson"
assert fa.explain([1, 2]).materializer_id == "builtins.json"   # ndjson declines: falls through
assert "priority 10" in str(fa.explain("hi"))
art = fa.materialize("hello", "greeting", "r1", "s", "demo")
assert art.materializer == "example.text" and fa.load(art.uri) == "hello"
rows = fa.materialize([{"a": 1}, {"b": 2}], "rows", "r1", "s", "demo")
assert fa.load(rows.uri) == [{"a": 1}, {"b": 2}]
"""
    done = _run_with(site, tmp_path, "-c", check)
    assert done.returncode == 0, done.stderr
    explained = _run_with(site, tmp_path, "-m", "flow_artifacts", "explain", "'hi'")
    assert explained.returncode == 0 and "example.text" in explained.stdout


def test_explain_exits_1_when_two_plugins_claim_a_type_equally(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    text = _plugin_block("README.md", "class TextMaterializer")
    _install(site, "text_plugin", text)
    _install(site, "text_again", text.replace('"example.text"', '"example.text2"'))
    done = _run_with(site, tmp_path, "-m", "flow_artifacts", "explain", "builtins.str")
    assert done.returncode == 1
    assert "claimed equally" in done.stdout and "text_again" in done.stdout


def test_a_misspelled_type_in_stack_materializers_is_refused(tmp_path):
    for typo, expected in (
        ("pandsa.DataFrame", "no module 'pandsa'"),
        ("builtins.dcit", "no 'dcit'"),
    ):
        (tmp_path / "stack.yaml").write_text(f"materializers:\n  {typo}: builtins.json\n")
        with pytest.raises(fa.ConfigError, match=expected):
            fa.Stack.from_yaml(tmp_path / "stack.yaml")
    (tmp_path / "stack.yaml").write_text("materializers:\n  builtins.dict: builtins.json\n")
    fa.Stack.from_yaml(tmp_path / "stack.yaml").close()
