"""Jobs whose inputs and outputs live in object storage: a real S3-compatible server (moto, from PyPI) and
Azure's emulator (Azurite, from npm), behind a loopback proxy that counts what is downloaded and can
cut the line.

The servers come from ``tests/conftest.py``'s session fixtures; each test gets a fresh bucket or
container, a workspace whose datastore points at it (credentials inline, as Azure YAML has them) and a
deployment that echoes its files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.storage_proxy import Proxy
from thresher.storage.remote import RemoteURL

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
