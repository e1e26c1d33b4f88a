"""YAML stack files: validation messages, variables, secrets, and which stack is active."""

from __future__ import annotations

import logging
import os
import textwrap
import time
import uuid
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.errors import shown_path
from flow_artifacts.failures import split_error
from flow_artifacts.stack.file import read_stack_config


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path):
    for var in (
        "FLOW_ARTIFACTS_STACK",
        "FLOW_ARTIFACTS_DISABLED",
        "FLOW_ARTIFACTS_DISABLE_PLUGINS",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def write(folder: Path, text: str, name: str = "flow_artifacts.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_a_full_stack_file_gives_a_stack_with_every_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("FA_TEST_PROJECT", "demo")
    path = write(
        tmp_path,
        """
        project: ${FA_TEST_PROJECT}
        artifact_store:
          url: ./data/artifacts
          storage_options: {auto_mkdir: true}
        catalog: {url: "sqlite:///data/catalog.db"}
        path_template: "{project}/{pipeline}/{run_id}/{step}/{name}"
        materializers: {builtins.dict: cloudpickle}
        plugins: {disabled: [path_copy]}
        allow_pickle: true
    """,
    )
    stack = fa.Stack.from_yaml(path)

    assert (stack.name, stack.project, stack.source) == ("flow_artifacts", "demo", str(path))
    assert stack.store.url == str(tmp_path / "data" / "artifacts")
    assert stack.catalog.url == f"sqlite:///{tmp_path / 'data' / 'catalog.db'}"
    assert stack.store.template.source == "{project}/{pipeline}/{run_id}/{step}/{name}"
    assert dict(stack.overrides) == {"builtins.dict": "cloudpickle"}
    assert stack.plugins.pm.is_blocked("path_copy") and stack.store.plugins is stack.plugins
    assert "path.copy" not in stack.plugins.materializers

    with pytest.warns(fa.PickleFallbackWarning):
        art = fa.materialize({"a": 1}, "report", "r1", "s", "demo", stack=stack, pipeline="p")
    assert art.materializer == "cloudpickle" and art.key == "demo/p/r1/s/report"
    assert (tmp_path / "data" / "catalog.db").exists()


def test_several_stacks_in_one_file_and_how_one_is_chosen(tmp_path):
    path = write(
        tmp_path,
        """
        active: dev
        stacks:
          dev: {project: from-dev, artifact_store: {url: dev-store}}
          prod: {project: from-prod, artifact_store: {url: memory://prod-store}}
    """,
    )
    assert fa.Stack.from_yaml(path).project == "from-dev"
    prod = fa.Stack.from_yaml(path, "prod")
    assert (prod.name, prod.project, prod.store.url) == ("prod", "from-prod", "memory://prod-store")
    assert fa.get_stack().project == "from-dev"  # discovered in the current directory
    with fa.use_stack(f"{path}#prod") as chosen:
        assert chosen.project == "from-prod" and fa.get_stack() is chosen


def _error(path: Path, name: str | None = None) -> str:
    with pytest.raises(fa.ConfigError) as caught:
        read_stack_config(path, name)
    return str(caught.value)


# fmt: off
INVALID = {
    "unknown key": (
        "project: demo\nprojct: typo\n",
        ["line 2", "key 'projct'", "unknown key", "allowed: allow_pickle, artifact_store, "
         "catalog, materializer_options, materializers, openlineage, path_template, plugins, "
         "project, trusted_projects"],
    ),
    "unknown nested key": (
        "catalog:\n  uri: sqlite:///x.db\n",
        ["line 2", "key 'catalog.uri'", "allowed: url"],
    ),
    "wrong type": (
        "project: demo\nallow_pickle: 'yes'\n",
        ["line 2", "key 'allow_pickle'", "expected true, false or trusted-projects, got a string",
         "allowed: true, false, trusted-projects"],
    ),
    "trusted projects missing": (
        "project: demo\nallow_pickle: trusted-projects\n",
        ["line 2", "key 'allow_pickle'", "needs a non-empty trusted_projects list"],
    ),
    "bad trusted project": (
        "allow_pickle: trusted-projects\ntrusted_projects: [ok, ../up]\n",
        ["line 2", "key 'trusted_projects.1'", "invalid project"],
    ),
    "number for a string": (
        "project: 42\n",
        ["line 1", "key 'project'", "expected a string, got 42 (a number)"],
    ),
    "list for a mapping": (
        "materializers: [pandas.parquet]\n",
        ["line 1", "key 'materializers'", "expected a mapping, got a list"],
    ),
    "null section": (
        "artifact_store:\n",
        ["line 1", "key 'artifact_store'", "expected a mapping, got nothing (null)"],
    ),
    "unknown materializer": (
        "materializers:\n  pandas.DataFrame: pandas.feather\n",
        ["line 2", "key 'materializers.pandas.DataFrame'", "unknown materializer 'pandas.feather'",
         "allowed: ", "builtins.json", "cloudpickle", "pandas.parquet"],
    ),
    "materializer key not a type": (
        "materializers:\n  DataFrame: pandas.parquet\n",
        ["line 2", "key 'materializers.DataFrame'", "dotted type names",
         "allowed: e.g. pandas.DataFrame"],
    ),
    "materializer of a disabled plugin": (
        "plugins: {disabled: [cloudpickle_object]}\n"
        "materializers: {builtins.object: cloudpickle}\n",
        ["line 2", "key 'materializers.builtins.object'", "unknown materializer 'cloudpickle'",
         "allowed: "],
    ),
    "unknown plugin": (
        "plugins:\n  disabled:\n    - json_report\n    - pandas\n",
        ["line 4", "key 'plugins.disabled.1'", "unknown plugin 'pandas'",
         "allowed: ", "cloudpickle_object", "pandas_parquet"],
    ),
    "bad template": (
        "project: demo\npath_template: '{project}/{run}/{name}'\n",
        ["line 2", "key 'path_template'", "unknown variable {run}",
         "allowed: {project}, {run_id}, {step}, {name}, {date}, {pipeline}"],
    ),
    "template without a name": (
        "path_template: '{project}/{run_id}'\n",
        ["line 1", "key 'path_template'", "must contain {name}"],
    ),
    "duplicate key": (
        "project: a\ncatalog: {url: 'sqlite:///x.db'}\nproject: b\n",
        ["line 3", "key 'project'", "duplicate key (first set on line 1)"],
    ),
    "duplicate nested key": (
        "artifact_store:\n  url: a\n  url: b\n",
        ["line 3", "key 'artifact_store.url'", "duplicate key (first set on line 2)"],
    ),
    "alias": (
        "project: &name demo\ncatalog: {url: *name}\n",
        ["line 2", "YAML aliases (*name) are not allowed"],
    ),
    "invalid YAML": (
        "project: demo\ncatalog: {url: [unclosed\n",
        ["line 3", "invalid YAML"],
    ),
    "python tag": (
        "project: !!python/object/apply:os.system ['true']\n",
        ["line 1", "invalid YAML", "tag 'tag:yaml.org,2002:python/object/apply:os.system'"],
    ),
    "python scalar tag": (
        "project: !!python/name:os.system\n",
        ["line 1", "invalid YAML", "could not determine a constructor"],
    ),
    "set tag": (
        "plugins: !!set {a, b}\n",
        ["line 1", "invalid YAML", "tag 'tag:yaml.org,2002:set' is not allowed"],
    ),
    "not a mapping": (
        "- project\n- demo\n",
        ["line 1", "(top level)", "expected a mapping, got a list"],
    ),
    "unset variable": (
        "project: demo\nartifact_store:\n  url: ${FA_TEST_UNSET_VARIABLE}/artifacts\n",
        ["line 3", "key 'artifact_store.url'",
         "environment variable FA_TEST_UNSET_VARIABLE is not set and has no default"],
    ),
    "malformed variable": (
        "project: ${1ABC}\n",
        ["line 1", "key 'project'", "'${1ABC}' is not a variable reference",
         "${NAME} or ${NAME:-default}"],
    ),
    "unclosed variable": (
        "project: ${ABC\n",
        ["line 1", "key 'project'", "'${' is not closed"],
    ),
    "invalid project name": (
        "project: ../escape\n",
        ["line 1", "key 'project'", "invalid project '../escape'"],
    ),
    "unknown protocol": (
        "artifact_store: {url: 's4://bucket/x'}\n",
        ["line 1", "key 'artifact_store.url'", "unknown storage protocol 's4'", "s3", "memory"],
    ),
    "credentials in the store URL": (
        "artifact_store:\n  url: 's3://me:hunter2hunter2@bucket/x'\n",
        ["line 2", "key 'artifact_store.url'", "holds credentials",
         "allowed: credentials in artifact_store.storage_options"],
    ),
    "unsupported catalog": (
        "catalog: {url: 'mysql://db/x'}\n",
        ["line 1", "key 'catalog.url'", "unsupported database 'mysql'", "sqlite:///<path>"],
    ),
    "not a database URL": (
        "catalog: {url: 'not a url'}\n",
        ["line 1", "key 'catalog.url'", "not a database URL", "postgresql+psycopg://"],
    ),
    "unknown top-level key among several stacks": (
        "active: dev\nproject: demo\nstacks: {dev: {}}\n",
        ["line 2", "key 'project'", "allowed: active, stacks"],
    ),
    "unknown active stack": (
        "active: staging\nstacks:\n  dev: {}\n  prod: {}\n",
        ["line 1", "key 'active'", "there is no stack 'staging'", "allowed: dev, prod"],
    ),
    "no active stack": (
        "stacks:\n  dev: {}\n  prod: {}\n",
        ["line 1", "no `active:` one", "allowed: dev, prod"],
    ),
    "error inside a stack that is not chosen": (
        "active: dev\nstacks:\n  dev: {}\n  prod:\n    catalog: {url: 1}\n",
        ["line 5", "key 'stacks.prod.catalog.url'", "expected a string, got 1 (a number)"],
    ),
    "invalid stack name": (
        "active: dev\nstacks:\n  dev: {}\n  'a/b': {}\n",
        ["line 4", "key 'stacks.a/b'", "invalid stack name 'a/b'"],
    ),
}
# fmt: on


@pytest.mark.parametrize("text, expected", INVALID.values(), ids=INVALID.keys())
def test_an_invalid_file_names_the_file_line_key_and_what_is_allowed(tmp_path, text, expected):
    path = write(tmp_path, text)
    message = _error(path)
    assert message.startswith(shown_path(path)) and str(tmp_path) not in message, message
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in: {message}"


def test_choosing_a_missing_stack_lists_the_stacks(tmp_path, monkeypatch):
    several = write(tmp_path, "active: dev\nstacks:\n  dev: {}\n  prod: {}\n")
    assert "there is no stack 'qa'; allowed: dev, prod" in _error(several, "qa")
    single = write(tmp_path / "single", "project: demo\n")
    assert "holds a single stack" in _error(single, "prod")

    monkeypatch.setenv("FLOW_ARTIFACTS_STACK", str(tmp_path / "nowhere.yaml"))
    with pytest.raises(fa.ConfigError, match="FLOW_ARTIFACTS_STACK=.*nowhere.yaml does not exist"):
        fa.get_stack()


def test_a_connection_url_given_as_a_stack_keeps_its_password_out_of_the_error(monkeypatch):
    # a careless `stack=` (or FLOW_ARTIFACTS_STACK) naming a DSN instead of a stack file
    for spec in ("postgresql://flow:pw-7e1d9a@db/flow", "postgresql://flow:pw-7e1d9a@db/flow#x"):
        with pytest.raises(fa.ConfigError, match="give the path of a stack file") as raised:
            fa.use_stack(spec).__enter__()
        assert "pw-7e1d9a" not in str(raised.value)
        monkeypatch.setenv("FLOW_ARTIFACTS_STACK", spec)
        with pytest.raises(fa.ConfigError) as raised:
            fa.get_stack()
        assert "FLOW_ARTIFACTS_STACK" in str(raised.value) and "pw-7e1d9a" not in str(raised.value)


def test_alias_bombs_are_refused_before_they_expand(tmp_path):
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    assert "line 2: YAML aliases (*a0) are not allowed" in _error(path)


def test_variables_expand_with_defaults_and_escapes(tmp_path, monkeypatch):
    monkeypatch.setenv("FA_TEST_ROOT", str(tmp_path / "from-env"))
    monkeypatch.setenv("FA_TEST_EMPTY", "")
    monkeypatch.delenv("FA_TEST_MISSING", raising=False)
    path = write(
        tmp_path,
        """
        project: ${FA_TEST_MISSING:-fallback}
        artifact_store:
          url: ${FA_TEST_ROOT}/artifacts
          storage_options: {note: "$${LITERAL} costs $$5", other: "${FA_TEST_EMPTY:-was-empty}"}
    """,
    )
    config = read_stack_config(path)
    assert config.project == "fallback"
    assert config.store_url == str(tmp_path / "from-env" / "artifacts")
    assert config.storage_options == {"note": "${LITERAL} costs $5", "other": "was-empty"}


def test_relative_paths_are_relative_to_the_file_and_the_file_is_found_from_below(
    tmp_path, monkeypatch
):
    project = tmp_path / "project"
    write(
        project,
        """
        artifact_store: {url: ./store}
        catalog: {url: "sqlite:///db/catalog.db"}
    """,
    )
    below = project / "src" / "deeper"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)
    stack = fa.get_stack()
    assert stack.store.url == str(project / "store")
    assert stack.catalog.url == f"sqlite:///{project / 'db' / 'catalog.db'}"
    defaults = read_stack_config(write(tmp_path / "bare", ""))
    assert defaults.store_url == str(tmp_path / "bare" / ".flow_artifacts" / "artifacts")
    bare_db = tmp_path / "bare" / ".flow_artifacts" / "catalog.db"
    assert defaults.catalog_url == f"sqlite:///{bare_db}"


def test_resolution_order_argument_block_environment_file_default(tmp_path, monkeypatch):
    default = fa.get_stack()
    assert default.store.url == str(tmp_path / ".flow_artifacts" / "artifacts")

    write(tmp_path, "project: from-file\n")
    assert fa.get_stack().project == "from-file"

    other = write(
        tmp_path / "elsewhere",
        """
        active: a
        stacks: {a: {project: from-env-a}, b: {project: from-env-b}}
    """,
        name="stacks.yaml",
    )
    monkeypatch.setenv("FLOW_ARTIFACTS_STACK", str(other))
    assert fa.get_stack().project == "from-env-a"
    monkeypatch.setenv("FLOW_ARTIFACTS_STACK", f"{other}#b")
    assert fa.get_stack().project == "from-env-b"

    block = fa.Stack.local(tmp_path / "block", project="from-block")
    argument = fa.Stack.local(tmp_path / "argument", project="from-argument")
    with fa.use_stack(block):
        assert fa.get_stack() is block
        with fa.run() as in_block:
            pass
        with fa.run(stack=argument) as with_argument:
            pass
        art = fa.materialize({"x": 1}, "x", "r", "s", stack=argument)
    assert (in_block.project, with_argument.project) == ("from-block", "from-argument")
    assert art.store is argument.store
    assert fa.get_stack().project == "from-env-b"

    monkeypatch.setenv("FLOW_ARTIFACTS_STACK", "#b")
    with pytest.raises(fa.ConfigError, match="holds a single stack"):
        fa.get_stack()  # '#b' picks from the discovered file, which has one stack


def test_stacks_are_cached_but_follow_the_directory_environment_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FA_TEST_PROJECT", "one")
    path = write(tmp_path, "project: ${FA_TEST_PROJECT}\n")
    first = fa.get_stack()
    assert fa.get_stack() is first and first.project == "one"

    monkeypatch.setenv("FA_TEST_PROJECT", "two")
    second = fa.get_stack()
    assert second is not first and second.project == "two"

    path.write_text("project: three\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert fa.get_stack().project == "three"

    monkeypatch.chdir(tmp_path.parent)  # above the file: the embedded default of that folder
    assert fa.get_stack().store.url == str(tmp_path.parent / ".flow_artifacts" / "artifacts")
    assert fa.get_stack() is fa.get_stack()


def test_secrets_never_reach_records_logs_or_messages(tmp_path, monkeypatch, caplog):
    secret = "s3cr3t-" + uuid.uuid4().hex
    monkeypatch.setenv("FA_TEST_SECRET", secret)
    path = write(
        tmp_path,
        """
        project: demo
        artifact_store:
          url: ./store
          storage_options: {secret: "${FA_TEST_SECRET}"}
        catalog: {url: "sqlite:///catalog.db"}
    """,
    )
    stack = fa.Stack.from_yaml(path)
    assert stack.store.fs.storage_options["secret"] == secret  # handed to fsspec, and only there
    assert stack.secrets == (secret,)

    @fa.step
    def leaky(api_key: str) -> dict:
        raise ValueError(f"login with {api_key} refused")

    @fa.step
    def fine(n: int) -> dict:
        return {"n": n}

    caplog.set_level(logging.DEBUG, logger="flow_artifacts")
    with pytest.raises(ValueError, match=secret), fa.run(stack=stack) as run:
        fine(1)
        leaky(secret)
    assert run.error == "ValueError: login with *** refused"
    assert split_error(run.steps[1].error)[0] == "ValueError: login with *** refused"

    stored = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "flow_artifacts.yaml"]
    assert any(p.name.startswith("catalog.db") for p in stored)
    assert any(p.name.endswith(".artifact.json") for p in stored)
    for stored_file in stored:
        assert secret.encode() not in stored_file.read_bytes(), stored_file
    assert secret not in caplog.text
    assert secret not in repr(stack) and secret not in str(stack)
    assert secret not in repr(read_stack_config(path))

    monkeypatch.setenv("FA_TEST_TOKEN", secret)
    recorded = write(tmp_path / "bad", "project: demo\npath_template: '${FA_TEST_TOKEN}/{name}'\n")
    message = _error(recorded)
    assert "uses ${FA_TEST_TOKEN}, which looks like a secret" in message
    assert "allowed: secrets only in artifact_store.storage_options and catalog.url" in message
    assert secret not in message

    unknown = write(
        tmp_path / "bad2",
        f"""
        artifact_store:
          url: ./store
          storage_options: {{token: "${{FA_TEST_TOKEN}}"}}
        materializers: {{builtins.dict: "{secret}"}}
    """,
    )
    message = _error(unknown)
    assert "unknown materializer '***'" in message and secret not in message


def test_catalog_passwords_are_masked_when_the_catalog_cannot_be_opened(tmp_path, monkeypatch):
    password = "pw-" + uuid.uuid4().hex
    monkeypatch.setenv("FA_TEST_DB_PASSWORD", password)
    path = write(
        tmp_path,
        """
        catalog: {url: "postgresql+psycopg://flow:${FA_TEST_DB_PASSWORD}@127.0.0.1:1/flow"}
    """,
    )
    config = read_stack_config(path)
    assert config.catalog_url == f"postgresql+psycopg://flow:{password}@127.0.0.1:1/flow"
    assert password in config.secrets and password not in repr(config)
    with pytest.raises(fa.FlowArtifactsError) as caught:
        fa.Stack.from_config(config)
    assert "cannot open its catalog" in str(caught.value)
    assert password not in str(caught.value) and caught.value.__cause__ is None
