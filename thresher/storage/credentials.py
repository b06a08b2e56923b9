"""A datastore's ``credentials``: as written, as stored, as shown, and as handed to the storage library.

Each value of ``credentials`` is one of:

- a string written inline (``account_key: abc...``): stored encrypted (``{encrypted: <token>, key_id: ...}``,
  see ``vault``), never shown again; the public ones (tenant and client ids) are kept as written;
- a reference, stored as written and resolved where the storage is opened:
  ``{env: VARIABLE}`` (an environment variable) or ``{file: /path}`` (a file's contents, stripped);
- ``anonymous: true`` (public containers and buckets).

No ``credentials`` at all means the storage library's default chain (environment, managed identity,
``~/.aws``, ...).

Example::

    stored = seal({"account_key": "abc"}, vault)     # {"account_key": {"encrypted": "...", "key_id": "..."}}
    shown(stored)                                    # {"account_key": "<secret: stored encrypted>"}
    resolve(stored, vault, datastore="blob")         # {"account_key": "abc"}
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from thresher.errors import StorageError
from thresher.specs.datastores import PUBLIC_CREDENTIALS, SECRET_SHOWN
from thresher.storage.vault import Vault

ENCRYPTED, KEY_ID, ENV, FILE = "encrypted", "key_id", "env", "file"


def seal(credentials: Mapping[str, Any] | None, vault: Vault) -> dict[str, Any] | None:
    """``credentials`` as the database stores them: every inline secret replaced by its encrypted token."""
    if credentials is None:
        return None
    sealed: dict[str, Any] = {}
    for key, value in credentials.items():
        if isinstance(value, str) and key not in PUBLIC_CREDENTIALS:
            token, key_id = vault.encrypt(value)
            sealed[key] = {ENCRYPTED: token, KEY_ID: key_id}
        else:
            sealed[key] = value
    return sealed


def shown(credentials: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``credentials`` as ``show`` and ``list`` print them: references as written, secrets as a marker."""
    if credentials is None:
        return None
    return {
        key: SECRET_SHOWN if _is_sealed(value) or (isinstance(value, str) and key not in PUBLIC_CREDENTIALS) else value
        for key, value in credentials.items()
    }


def resolve(credentials: Mapping[str, Any] | None, vault: Vault, *, datastore: str) -> dict[str, Any]:
    """The plain values for the storage library: secrets decrypted, references read (here, now)."""
    resolved: dict[str, Any] = {}
    for key, value in (credentials or {}).items():
        if _is_sealed(value):
            resolved[key] = vault.decrypt(
                str(value[ENCRYPTED]), datastore=datastore, key=key, stored_with=value.get(KEY_ID)
            )
        elif isinstance(value, Mapping) and ENV in value:
            resolved[key] = _from_env(str(value[ENV]), datastore, key)
        elif isinstance(value, Mapping) and FILE in value:
            resolved[key] = _from_file(Path(str(value[FILE])).expanduser(), datastore, key)
        else:
            resolved[key] = value
    return resolved


def secret_values(resolved: Mapping[str, Any]) -> list[str]:
    """The secret strings among resolved credentials (to scrub from any text shown to a user)."""
    return [value for key, value in resolved.items() if isinstance(value, str) and key not in PUBLIC_CREDENTIALS]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret in it replaced by ``<secret>`` (libraries may echo what they were given)."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "<secret>")
    return text


def _is_sealed(value: Any) -> bool:
    return isinstance(value, Mapping) and ENCRYPTED in value


def _from_env(variable: str, datastore: str, key: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise StorageError(
            f"Datastore '{datastore}': credentials.{key} comes from the environment variable {variable}, "
            "which is not set here.",
            fix=f"Set {variable} in the environment of the process that opens the datastore (the runner, "
            "the server, or this shell).",
        )
    return value


def _from_file(path: Path, datastore: str, key: str) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise StorageError(
            f"Datastore '{datastore}': credentials.{key} comes from the file {path}, which cannot be read: "
            f"{exc.strerror or exc}.",
            fix=f"Create {path} (readable by this user) on the machine that opens the datastore, or change "
            "the datastore's credentials.",
        ) from exc
