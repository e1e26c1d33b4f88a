"""Secrets are found by structure and masked wherever they would be shown, logged or recorded."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.cli.main import cli
from flow_artifacts.failures import split_error
from flow_artifacts.redact import scrub
from flow_artifacts.ui.app import create_app
from tests import servers


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("FLOW_ARTIFACTS_STACK", raising=False)
    monkeypatch.chdir(tmp_path)


def secret(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def forms(value: str) -> list[str]:
    """A secret as is and percent-encoded, the ways it could be written out."""
    return list(dict.fromkeys([value, quote(value, safe=""), quote(value)]))


def invoke(*args: str, fails: bool = False) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == (1 if fails else 0), result.output
    return result.output


@pytest.fixture
def params_run(tmp_path) -> tuple[fa.Stack, fa.Run, dict[str, str]]:
    """A run whose one step got a DSN, a libpq DSN, auth headers, passwords inside a list of
    dicts and URLs with credentials, and a second step that failed quoting credentials."""
    stack = fa.Stack.local(tmp_path / "fa")
    values = {name: secret(name) for name in ("dsn", "libpq", "bearer", "nested", "token", "sig")}

    @fa.step
    def connect(dsn: str, libpq: str, headers: dict, accounts: list, repo: str, blob: str) -> dict:
        return {"connected": True}

    @fa.step
    def fetch(url: str) -> None:
        raise ConnectionError(f"GET {url} with Authorization: Bearer {values['bearer']} failed")

    with fa.run(project="demo", stack=stack) as run:
        connect(
            f"postgresql://flow:{values['dsn']}@db.internal:5432/prod",
            f"host=db user=flow password={values['libpq']} dbname=prod",
            {"Authorization": f"Bearer {values['bearer']}", "Accept": "application/json"},
            [{"user": "a", "password": values["nested"]}, {"user": "b", "roles": ["x"]}],
            f"https://{values['token']}@github.com/org/repo.git",
            f"https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig={values['sig']}&sp=r",
        )
        with contextlib.suppress(ConnectionError):
            fetch(f"https://svc:{values['dsn']}@api.internal/v1")
    return stack, run, values


EXPECTED_PARAMS = {
    "dsn": "postgresql://***@db.internal:5432/prod",
    "libpq": "host=db user=flow password=*** dbname=prod",
    "headers": {"Authorization": "***", "Accept": "application/json"},
    "accounts": [{"user": "a", "password": "***"}, {"user": "b", "roles": ["x"]}],
    "repo": "https://***@github.com/org/repo.git",
    "blob": "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig=***&sp=r",
}


def test_step_params_and_errors_are_recorded_with_secrets_masked(params_run):
    stack, run, values = params_run
    assert run.steps[0].params == EXPECTED_PARAMS
    recorded = stack.catalog.step_runs_of_run("demo", run.id)
    assert recorded[0].params == EXPECTED_PARAMS  # the catalog row
    assert split_error(recorded[1].error)[0] == (
        "ConnectionError: GET https://***@api.internal/v1 with Authorization: Bearer *** failed"
    )
    assert run.steps[1].error == recorded[1].error

    with TestClient(create_app(stack), base_url="http://127.0.0.1") as client:
        detail = client.get(f"/api/runs/demo/{run.id}")
    assert detail.status_code == 200
    steps = {s["step"]: s for s in detail.json()["steps"]}
    assert steps["connect"]["params"] == EXPECTED_PARAMS
    assert steps["fetch"]["error"] == recorded[1].error
    for value in values.values():
        assert value not in detail.text


def test_short_secrets_mask_no_unrelated_text(tmp_path):
    (tmp_path / "stack.yaml").write_text(
        "project: demo\n"
        "artifact_store:\n"
        "  url: ./store\n"
        "  storage_options: {token: anon, secret: ac, auto_mkdir: true}\n"
    )
    stack = fa.Stack.from_yaml(tmp_path / "stack.yaml")
    assert set(stack.secrets) == {"anon", "ac"}
    text = "stack 'prod' of anonymous: anon-data has no token"
    assert stack.scrub(text) == text
    fa.materialize({"a": 1}, "anon-report", "r1", "s", "demo", stack=stack)
    stack.close()

    shown = invoke("--stack", str(tmp_path / "stack.yaml"), "ls")
    assert "anon-report" in shown and "*" not in shown
    missing = invoke(
        "--stack", str(tmp_path / "stack.yaml"), "show", "store://demo/anon-missing", fails=True
    )
    assert "anon-missing" in missing and "*" not in missing


# --- a real PostgreSQL role with a password full of URL delimiters -----------------------------


@pytest.fixture
def password_role(postgres_server) -> Iterator[tuple[str, str, str]]:
    """A login role with a password holding `:`, `@`, `/`, `%`, `#` and `?`, checked by
    scram-sha-256 (the cluster trusts every other role), and a database it owns."""
    import psycopg
    from psycopg import sql

    role, database = servers.unique_name("role_"), servers.unique_name("db_")
    password = f"p:a@s/s%w#?{uuid.uuid4().hex[:10]}"
    admin = {"host": postgres_server.host, "port": postgres_server.port, "user": "postgres"}
    with psycopg.connect(**admin, dbname="postgres", autocommit=True) as conn:
        hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
        original = hba.read_text()
        rule = f"host all {role} 0.0.0.0/0 scram-sha-256\nhost all {role} ::/0 scram-sha-256\n"
        hba.write_text(rule + original)
        conn.execute("SELECT pg_reload_conf()")
        create_role = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}")
        conn.execute(create_role.format(sql.Identifier(role), sql.Literal(password)))
        create_db = sql.SQL("CREATE DATABASE {} OWNER {}")
        conn.execute(create_db.format(sql.Identifier(database), sql.Identifier(role)))
    try:
        _wait_until_passwords_are_checked(admin, role, database)
        yield role, password, database
    finally:
        with psycopg.connect(**admin, dbname="postgres", autocommit=True) as conn:
            hba.write_text(original)
            conn.execute("SELECT pg_reload_conf()")
            drop_db = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop_db.format(sql.Identifier(database)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _wait_until_passwords_are_checked(admin: dict, role: str, database: str) -> None:
    """pg_reload_conf() only signals the server: wait until a wrong password is refused."""
    import psycopg

    for _ in range(200):
        try:
            psycopg.connect(**{**admin, "user": role}, dbname=database, password="wrong").close()
        except psycopg.OperationalError:
            return
        time.sleep(0.05)
    raise AssertionError("the server kept trusting the role after pg_reload_conf()")


def test_a_catalog_password_with_url_delimiters_works_and_is_never_shown(
    tmp_path, monkeypatch, postgres_server, password_role
):
    role, password, database = password_role
    where = f"{postgres_server.host}:{postgres_server.port}/{database}"
    monkeypatch.setenv("FA_TEST_DB_PASSWORD", password)
    from_env = tmp_path / "env.yaml"
    from_env.write_text(
        "project: demo\n"
        "artifact_store: {url: ./store}\n"
        f'catalog: {{url: "postgresql+psycopg://{role}:${{FA_TEST_DB_PASSWORD}}@{where}"}}\n'
    )
    stack = fa.Stack.from_yaml(from_env)  # the password really authenticates (scram-sha-256)
    art = fa.materialize({"a": 1}, "report", "r1", "s", "demo", stack=stack)
    assert fa.load(art.uri, stack=stack) == {"a": 1}
    assert password in stack.secrets
    stack.close()

    encoded = tmp_path / "encoded.yaml"  # the same password percent-encoded by hand
    encoded.write_text(
        "project: demo\n"
        "artifact_store: {url: ./store}\n"
        f'catalog: {{url: "postgresql+psycopg://{role}:{quote(password, safe="")}@{where}"}}\n'
    )
    for path in (from_env, encoded):
        text = invoke("--stack", str(path), "stack", "show")
        as_json = invoke("--stack", str(path), "stack", "show", "--json")
        assert f"postgresql+psycopg://***@{where}" in text and "***@" in as_json
        assert '"project": "demo"' in as_json
        for shown in (text, as_json):
            assert not any(form in shown for form in forms(password)), shown

    wrong = f"Wr0ng:p@ss/word%{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("FA_TEST_DB_PASSWORD", wrong)
    with pytest.raises(fa.FlowArtifactsError) as caught:
        fa.Stack.from_yaml(from_env)
    message = str(caught.value)
    assert "cannot open its catalog" in message and "password authentication failed" in message
    for fragment in (*forms(wrong), "Wr0ng", "word%", "p@ss", password):
        assert fragment not in message
    cli_message = invoke("--stack", str(from_env), "ls", fails=True)
    assert "password authentication failed" in cli_message and "Wr0ng" not in cli_message


# --- nothing anywhere holds a secret -----------------------------------------------------------


def test_no_byte_of_store_catalog_logs_cli_output_or_pages_holds_a_secret(
    tmp_path, monkeypatch, caplog
):
    """Secrets in the stack file, in the environment and in step params; then a pipeline, the
    CLI and the web API; then every byte written or shown is searched for every secret."""
    store_token, literal_key = secret("store-token"), secret("literal-key")
    api_key, db_password, bearer, nested = (
        secret("env-api-key"),
        secret("db:p@ss/w%rd"),
        secret("bearer"),
        secret("nested"),
    )
    secrets = [store_token, literal_key, api_key, db_password, bearer, nested]
    monkeypatch.setenv("FA_GREP_STORE_TOKEN", store_token)
    monkeypatch.setenv("FA_GREP_API_KEY", api_key)
    stack_file = tmp_path / "flow_artifacts.yaml"
    stack_file.write_text(
        "project: demo\n"
        "artifact_store:\n"
        "  url: ./store\n"
        "  storage_options:\n"
        "    auto_mkdir: true\n"
        "    token: ${FA_GREP_STORE_TOKEN}\n"
        f"    api_key: {literal_key}\n"
        'catalog: {url: "sqlite:///catalog.db"}\n'
    )
    caplog.set_level(logging.DEBUG)
    stack = fa.Stack.from_yaml(stack_file)

    @fa.step
    def ingest(source: str, headers: dict, accounts: list, api_key: str) -> dict:
        return {"rows": 3}

    @fa.step
    def publish(report: dict, target: str) -> None:
        raise PermissionError(f"cannot write to {target} (Authorization: Bearer {bearer})")

    with contextlib.suppress(PermissionError), fa.run(project="demo", stack=stack) as run:
        import os

        report = ingest(
            f"postgresql://etl:{quote(db_password, safe='')}@db/prod",
            {"Authorization": f"Bearer {bearer}", "Cookie": f"session={bearer}"},
            [{"name": "svc", "password": nested}],
            os.environ["FA_GREP_API_KEY"],
        )
        publish(report, f"https://etl:{db_password}@share.internal/reports")
    assert run.status == "failed"
    ref = "store://demo/ingest"
    fa.materialize({"n": 1}, "summary", run.id, "summarize", "demo", stack=stack)

    outputs = []
    for args in (
        ["ls"],
        ["ls", "--json"],
        ["show", ref],
        ["show", ref, "--json"],
        ["versions", "ingest"],
        ["runs"],
        ["runs", "--json"],
        ["lineage", ref],
        ["cat", "store://demo/summary"],
        ["stack", "show"],
        ["stack", "show", "--json"],
        ["stack", "validate"],
        ["verify", "--all"],
    ):
        outputs.append(invoke("--stack", str(stack_file), *args))
    echoed = invoke("--stack", str(stack_file), "show", f"store://demo/{store_token}", fails=True)
    outputs.append(echoed)
    outputs.append(invoke("ls"))  # the discovered stack file

    with TestClient(create_app(stack), base_url="http://127.0.0.1") as client:
        for url in ("/", "/runs", "/api/info", "/api/runs", "/api/artifacts"):
            outputs.append(client.get(url).text)
        for item in client.get("/api/artifacts").json()["items"]:
            for prefix in ("artifacts", "preview", "lineage", "versions", "content"):
                outputs.append(client.get(f"/api/{prefix}/{item['id']}").text)
        for listed in client.get("/api/runs").json()["items"]:
            outputs.append(client.get(f"/api/runs/{listed['project']}/{listed['run_id']}").text)
        outputs.append(client.get(f"/api/artifacts/store://demo/{store_token}").text)  # echoes it
    stack.close()

    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != stack_file]
    assert any(p.name == "catalog.db" for p in written)
    assert any(p.name.endswith(".artifact.json") for p in written)
    haystacks = {str(p.relative_to(tmp_path)): p.read_bytes() for p in written}
    haystacks.update({f"output {i}": o.encode() for i, o in enumerate(outputs)})
    logged = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    haystacks["logs"] = "\n".join(logged).encode()  # all but the test client's own requests
    for value in secrets:
        for form in forms(value):
            leaks = [where for where, data in haystacks.items() if form.encode() in data]
            assert not leaks, f"{form!r} found in {leaks}"
    shown = "".join(outputs)
    assert "Bearer ***" in shown  # the failed step's error, masked, is shown
    assert '"password":"***"' in shown and "postgresql://***@db/prod" in shown  # its params
    assert "store://demo/***" in outputs[-1] and "store://demo/***" in echoed  # echoed refs


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        (
            "connection to postgresql://etl:s3cr%40t@db:5432/prod failed",
            "connection to postgresql://***@db:5432/prod failed",
        ),
        ("bad URL postgresql://etl:p@ss@db/prod", "bad URL postgresql://***@db/prod"),
        (
            "host=db user=etl password='a b\\'c' dbname=prod: refused",
            "host=db user=etl password='***' dbname=prod: refused",
        ),
        (
            "403 for https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig=Zm9v%2Bbar&sp=r",
            "403 for https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig=***&sp=r",
        ),
        (
            "AccountName=dev;AccountKey=Eby8vdM02xNO==;BlobEndpoint=http://h",
            "AccountName=dev;AccountKey=***;BlobEndpoint=http://h",
        ),
        (
            "request headers {'Authorization': 'Bearer abc.def', 'Accept': '*/*'}",
            "request headers {'Authorization': 'Bearer ***', 'Accept': '*/*'}",
        ),
        ("Cookie: session=abc; theme=dark\nretrying", "Cookie: ***\nretrying"),
        (
            '{"client_secret": "xyz", "client_id": "app"}',
            '{"client_secret": "***", "client_id": "app"}',
        ),
        ("NoSuchKey: key='demo/r1/raw' max_tokens=10 tokenizer=bpe", None),
        ("s3://bucket/path@v1/x and user@example.com", None),
    ],
)
def test_free_text_is_masked_by_structure_only(message, shown):
    """What SDK messages look like: their secrets are masked, and nothing else is touched."""
    assert scrub(message) == (shown or message)


def test_a_long_error_is_cut_after_masking_so_no_fragment_of_a_secret_remains(tmp_path):
    token = secret("s3cr3t")
    stack = fa.Stack.local(tmp_path / "fa")
    stack.secrets = (token,)

    @fa.step
    def verbose() -> None:
        raise ValueError("x" * (4000 - len("ValueError: ") - 5) + token)

    with pytest.raises(ValueError), fa.run(project="demo", stack=stack) as run:
        verbose()
    recorded = stack.catalog.step_runs_of_run("demo", run.id)[0].error
    assert split_error(recorded)[0].endswith("x***")
    assert token[:5] not in recorded and token[:5] not in run.error


def test_a_catalog_password_with_a_slash_is_masked_in_errors_and_repr() -> None:
    """SQLAlchemy accepts (and authenticates with) a password holding '/', '#' or '?'; the
    redaction module stops the user-info at the first '/', so the password is shown."""
    password = "Zq7/Kp9+Lm2x#Rt"
    url = f"postgresql+psycopg://fa:{password}@127.0.0.1:9/db"  # port 9: refused at once
    with pytest.raises(fa.FlowArtifactsError) as caught:
        fa.Catalog(url)
    for fragment in ("Kp9+Lm2x", "Zq7/"):
        assert fragment not in str(caught.value)


def test_a_long_error_does_not_keep_a_secret_fragment_when_masks_shrink_it(tmp_path) -> None:
    """error_text cuts at 4x the limit, masks, then cuts at the limit: a header masked early
    shrinks the text so a secret cut short at the first cut lands inside the record."""
    token = f"s3cr3tCatalogPw-{uuid.uuid4().hex[:12]}"
    stack = fa.Stack.local(tmp_path / "fa")
    stack.secrets = (token,)
    head = "Authorization: " + "A" * 13_000 + "\n"

    @fa.step
    def verbose() -> None:
        before = len("ValueError: ") + len(head)
        raise ValueError(head + "y" * (16_000 - before - 8) + token)

    with pytest.raises(ValueError), fa.run(project="demo", stack=stack) as run:
        verbose()
    recorded = stack.catalog.step_runs_of_run("demo", run.id)[0].error
    assert token[:8] not in recorded
    assert token[:8] not in (run.error or "")
    stack.close()
