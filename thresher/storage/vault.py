"""The workspace key, and secrets encrypted with it at rest.

A secret given inline in a datastore's YAML (an account key, a SAS token, a secret access key), and an
online endpoint's keys, are stored in the metadata database only as Fernet tokens. The key that opens
them never goes into the database: it is ``THRESHER_SECRET_KEY`` when set (runners on other machines
that share the database), else the file ``secret.key`` in the workspace folder, created readable only
by its owner the first time a secret is stored.

Example::

    vault = Vault(settings.secret_key_file, settings.secret_key)
    token = vault.encrypt("s3cr3t")            # what the database holds
    vault.decrypt(token, datastore="lake", key="account_key")  # -> "s3cr3t"
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from thresher.errors import SecretKeyError, StorageError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet
    from pydantic import SecretStr

ENV_KEY = "THRESHER_SECRET_KEY"


def key_id(key: bytes) -> str:
    """A short public name of a key (a hash prefix), so that messages can say which key stored a secret."""
    return hashlib.sha256(key).hexdigest()[:12]


class Vault:
    """Encrypts and decrypts secrets with the workspace key (``THRESHER_SECRET_KEY`` or the key file)."""

    def __init__(self, key_file: Path, env_key: SecretStr | str | None = None) -> None:
        self.key_file = key_file
        self._env_key = env_key if env_key is None or isinstance(env_key, str) else env_key.get_secret_value()

    @property
    def source(self) -> str:
        """Where the key comes from, for messages."""
        return ENV_KEY if self._env_key else str(self.key_file)

    def encrypt(self, secret: str) -> tuple[str, str]:
        """``(token, key id)`` for ``secret``; creates the key file (mode 0600) when there is no key yet."""
        key = self._key(create=True)
        assert key is not None  # create=True always yields a key
        return _fernet(key, self.source).encrypt(secret.encode()).decode(), key_id(key)

    def decrypt(self, token: str, *, datastore: str, key: str, stored_with: str | None = None) -> str:
        """The secret in ``token``; SecretKeyError naming the datastore and the fix when the key does not open it."""
        return self.open(
            token,
            what=f"Datastore '{datastore}': its secret credentials.{key}",
            fix=f"Set {ENV_KEY} to the key of the workspace that stored it (the contents of its secret.key file), "
            "or create the datastore again with its credentials: thresher datastore create -f datastore.yml",
            stored_with=stored_with,
        )

    def open(self, token: str, *, what: str, fix: str, stored_with: str | None = None) -> str:
        """The secret in ``token``; SecretKeyError saying ``what`` secret it is, and ``fix``, when this workspace
        has no key or its key does not open the token (``stored_with``: the id of the key that sealed it)."""
        from cryptography.fernet import InvalidToken

        workspace_key = self._key(create=False)
        if workspace_key is None:
            raise SecretKeyError(
                f"{what} is stored encrypted, but this workspace has no key to decrypt it ({ENV_KEY} is not set "
                f"and {self.key_file} does not exist).",
                fix=fix,
            )
        try:
            return _fernet(workspace_key, self.source).decrypt(token.encode()).decode()
        except (InvalidToken, ValueError, TypeError):
            stored = f" (stored with key {stored_with})" if stored_with else ""
            raise SecretKeyError(
                f"{what}{stored} cannot be decrypted with this workspace's key {key_id(workspace_key)} "
                f"(from {self.source}).",
                fix=fix,
            ) from None

    def _key(self, *, create: bool) -> bytes | None:
        if self._env_key:
            return self._env_key.strip().encode()
        try:
            return self.key_file.read_bytes().strip()
        except FileNotFoundError:
            if not create:
                return None
        return self._create_key_file()

    def _create_key_file(self) -> bytes:
        from cryptography.fernet import Fernet

        key = Fernet.generate_key()
        try:
            self.key_file.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL: two processes storing their first secret at once must not end up with two keys.
            descriptor = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self.key_file.read_bytes().strip()
        except OSError as exc:
            raise StorageError(
                f"Cannot create the workspace key file {self.key_file}: {exc.strerror or exc}.",
                fix=f"Make the workspace folder writable, or set {ENV_KEY} to a key made with: "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'",
            ) from exc
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key + b"\n")
        return key


def _fernet(key: bytes, source: str) -> Fernet:
    from cryptography.fernet import Fernet

    try:
        return Fernet(key)
    except ValueError:
        raise SecretKeyError(
            f"The workspace key in {source} is not a valid key: it must be 32 url-safe base64-encoded bytes "
            "(44 characters), as in a workspace's secret.key file.",
            fix=f"Set {ENV_KEY} to the contents of the secret.key file of the workspace that stored the secrets.",
        ) from None
