"""Jobs whose inputs and outputs live in object storage: a real S3-compatible server (moto, from PyPI) and
Azure's emulator (Azurite, from npm), behind a loopback proxy that counts what is downloaded and can
cut the line.

The servers come from ``tests/conftest.py``'s session fixtures; each test gets a fresh bucket or
container, a workspace whose datastore points at it (credentials inline, as Azure YAML has them) and a
deployment that echoes its files.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.jobs.conftest import Bench, bench
from tests.storage_proxy import Proxy, proxy
from thresher.specs import parse_spec
from thresher.storage.remote import RemoteURL

__all__ = ["ECHO", "Remote", "bench", "remote", "unique"]

ECHO = """
import os

def run(mini_batch):
    return [os.path.basename(path) + " " + open(path).read().strip() for path in mini_batch]
"""


@dataclass
class Remote:
    """A bucket (or container) behind a proxy, and a datastore of the workspace pointing at it."""

    kind: str
    datastore: str
    url: RemoteURL  # the bucket's root, with credentials, through the proxy
    proxy: Proxy
    secret: str

    def fs(self) -> tuple[Any, str]:
        return self.url.fs()

    def uri(self, path: str) -> str:
        return f"azureml://datastores/{self.datastore}/paths/{path}"

    def upload(self, folder: Path, path: str) -> None:
        fs, root = self.fs()
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                fs.put_file(str(file), f"{root}/{path}/{file.relative_to(folder).as_posix()}")

    def read(self, path: str) -> bytes:
        fs, root = self.fs()
        return bytes(fs.cat_file(f"{root}/{path}"))


@pytest.fixture(params=["s3", "azure"])
def remote(request: pytest.FixtureRequest, bench: Bench) -> Iterator[Remote]:
    """A fresh bucket (moto) or container (Azurite) behind a proxy, registered as datastore ``lake``."""
    with proxy_to(request) as (kind, server, through):
        if kind == "s3":
            bucket = server.create_bucket()
            spec = server.datastore_spec("lake", bucket)
            spec["endpoint_url"] = through.url
            options = {**server.storage_options, "endpoint_url": through.url}
            url = RemoteURL(f"s3://{bucket}", options, "lake")
            secret = server.secret_access_key
        else:
            container = server.create_container()
            spec = server.datastore_spec("lake", container)
            spec["endpoint"] = f"127.0.0.1:{through.port}"
            connection = server.connection_string.replace(f":{server.port}/", f":{through.port}/")
            url = RemoteURL(f"abfs://{container}", {"connection_string": connection}, "lake")
            secret = server.account_key
        bench.ws.datastores.create(parse_spec(spec, "datastore", base_dir=bench.root))
        yield Remote(kind, "lake", url, through, secret)


@contextlib.contextmanager
def proxy_to(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any, Proxy]]:
    kind = request.param
    server = request.getfixturevalue("moto_s3" if kind == "s3" else "azurite")
    with proxy(server.port) as through:
        yield kind, server, through


def unique() -> str:
    return uuid.uuid4().hex[:8]
