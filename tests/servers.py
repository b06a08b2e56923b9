"""Real storage servers for tests, on 127.0.0.1 on free ports: Azurite's blob service and moto's S3 server.

Each runs as a separate process (in its own session, so that a test can SIGSTOP it to play an outage),
keeps its data in memory, and is stopped by ``stop()``. tests/conftest.py starts one of each per test
session, on first use.

    server = AzuriteServer(); server.start()
    container = server.create_container()
    spec = server.datastore_spec("blob", container)      # azure_blob YAML as a dict, inline account key
    with server.paused(): ...                            # SIGSTOP ... SIGCONT
    server.stop()
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
AZURITE_BIN = REPO / ".tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's well-known development account (published in Microsoft's docs; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class ServerError(RuntimeError):
    """A test server could not start; the message carries its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unused_port() -> int:
    """A port nothing listens on (for 'unreachable endpoint' tests)."""
    return free_port()


class _Process:
    """A server process with a log, in its own session, that can be paused (SIGSTOP) and resumed."""

    name = "server"

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"thresher-{self.name}-"))
        self.log_file = self.root / "server.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server is not started"
        return self.process.pid

    def _command(self, port: int) -> list[str]:
        raise NotImplementedError

    def _env(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self, timeout: float = 60.0) -> None:
        last = ""
        for _attempt in range(3):  # another process may take the free port before the server binds it
            self.port = free_port()
            with self.log_file.open("ab") as log:
                self.process = subprocess.Popen(
                    self._command(self.port),
                    cwd=self.root,
                    env=self._env(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                except OSError:
                    time.sleep(0.1)
                    continue
                try:
                    self._ready()
                except Exception as exc:
                    self._kill()
                    raise ServerError(f"The test {self.name} started but could not be set up: {exc!r}") from exc
                return
            last = self.log_file.read_text(errors="replace")[-4000:]
            self._kill()
        raise ServerError(f"The test {self.name} did not start on 127.0.0.1. Its log:\n{last}")

    def _ready(self) -> None:
        """Called once the port accepts connections."""

    def pause(self) -> None:
        """SIGSTOP the server: connections still open (the kernel accepts them), nothing answers."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT the server (harmless when it is running)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.pid, signal.SIGCONT)

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.pause()
        try:
            yield
        finally:
            self.resume()

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def _kill(self) -> None:
        if self.process is None:
            return
        self.resume()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


class AzuriteServer(_Process):
    """Azurite's blob service (``azurite-blob`` from npm, see scripts/install-azurite.sh), data in memory."""

    name = "azurite"
    account_name = AZURITE_ACCOUNT
    account_key = AZURITE_KEY

    def __init__(self) -> None:
        if not AZURITE_BIN.exists():
            raise ServerError(f"Azurite is not installed ({AZURITE_BIN}). Install it with: make azurite")
        super().__init__()

    def _command(self, port: int) -> list[str]:
        return [
            str(AZURITE_BIN),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--skipApiVersionCheck",  # current Azure SDKs speak newer API versions than Azurite knows
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--silent",
        ]

    @property
    def host_port(self) -> str:
        """``127.0.0.1:PORT``: what a datastore's ``endpoint`` can be (with ``protocol: http``)."""
        return f"127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        """The account's blob endpoint, ``http://127.0.0.1:PORT/devstoreaccount1``."""
        return f"http://{self.host_port}/{self.account_name}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account_name};AccountKey={self.account_key};"
            f"BlobEndpoint={self.endpoint};"
        )

    @property
    def storage_options(self) -> dict[str, Any]:
        """adlfs options for ``abfs://<container>/...`` URLs on this server."""
        return {"connection_string": self.connection_string}

    def create_container(self, name: str | None = None) -> str:
        """A new empty container (a unique name unless given)."""
        from azure.storage.blob import BlobServiceClient

        name = name or f"c{uuid.uuid4().hex[:16]}"
        BlobServiceClient.from_connection_string(self.connection_string).create_container(name)
        return name

    def datastore_spec(self, name: str, container: str, **credentials: Any) -> dict[str, Any]:
        """An ``azure_blob`` datastore's YAML (as a dict) for ``container``; the account key inline by default."""
        return {
            "$schema": "https://azuremlschemas.azureedge.net/latest/azureBlob.schema.json",
            "name": name,
            "type": "azure_blob",
            "account_name": self.account_name,
            "container_name": container,
            "endpoint": self.host_port,
            "protocol": "http",
            "credentials": credentials or {"account_key": self.account_key},
        }


class MotoS3Server(_Process):
    """moto's server mode (``python -m moto.server``), with signatures checked against one IAM user's key."""

    name = "moto"

    def __init__(self) -> None:
        super().__init__()
        self.access_key_id = ""
        self.secret_access_key = ""

    def _command(self, port: int) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
        return env

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _ready(self) -> None:
        # A user with a real key pair; then moto checks every request's signature (a wrong key fails).
        import boto3

        iam = boto3.client(
            "iam",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )
        iam.create_user(UserName="thresher")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="thresher", PolicyName="all", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="thresher")["AccessKey"]
        self.access_key_id, self.secret_access_key = key["AccessKeyId"], key["SecretAccessKey"]
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/reset-auth",
            data=b"0",  # requests without auth allowed from now on
            headers={"Content-Type": "text/plain"},  # a form body would be parsed away by Flask
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    @property
    def storage_options(self) -> dict[str, Any]:
        """s3fs options for ``s3://bucket/...`` URLs on this server."""
        return {"key": self.access_key_id, "secret": self.secret_access_key, "endpoint_url": self.endpoint_url}

    def create_bucket(self, name: str | None = None) -> str:
        """A new empty bucket (a unique name unless given)."""
        import boto3

        name = name or f"b{uuid.uuid4().hex[:16]}"
        s3 = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )
        s3.create_bucket(Bucket=name)
        return name

    def datastore_spec(self, name: str, bucket: str, **credentials: Any) -> dict[str, Any]:
        """An ``s3`` datastore's YAML (as a dict) for ``bucket``; the key pair inline by default."""
        return {
            "name": name,
            "type": "s3",
            "url": f"s3://{bucket}",
            "endpoint_url": self.endpoint_url,
            "credentials": credentials
            or {"access_key_id": self.access_key_id, "secret_access_key": self.secret_access_key},
        }
