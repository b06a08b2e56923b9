"""The workspace key: a 0600 file made on first need or THRESHER_SECRET_KEY; a wrong key says what to do."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from thresher.errors import SecretKeyError
from thresher.storage.credentials import resolve, seal, shown
from thresher.storage.vault import Vault


def test_the_key_file_is_made_on_first_need_readable_only_by_its_owner(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "ws" / "secret.key")
    assert not vault.key_file.exists()

    token, key_id = vault.encrypt("s3cr3t")
    again, same_id = vault.encrypt("s3cr3t")

    assert stat.S_IMODE(vault.key_file.stat().st_mode) == 0o600
    assert "s3cr3t" not in token and token != again and key_id == same_id
    assert vault.decrypt(again, datastore="d", key="account_key") == "s3cr3t"


def test_the_environment_key_opens_what_the_workspace_file_sealed(tmp_path: Path) -> None:
    workspace = Vault(tmp_path / "secret.key")
    stored = seal({"account_key": "s3cr3t", "client_id": "public-id", "anonymous": False}, workspace)
    elsewhere = Vault(tmp_path / "other" / "secret.key", workspace.key_file.read_text().strip())

    assert shown(stored) == {
        "account_key": "<secret: stored encrypted>",
        "client_id": "public-id",
        "anonymous": False,
    }
    assert resolve(stored, elsewhere, datastore="blob") == {
        "account_key": "s3cr3t",
        "client_id": "public-id",
        "anonymous": False,
    }
    assert not (tmp_path / "other").exists()  # an environment key never makes a key file


def test_another_workspace_key_names_the_datastore_and_the_fix(tmp_path: Path) -> None:
    stored = seal({"account_key": "s3cr3t"}, Vault(tmp_path / "secret.key"))
    other = Vault(tmp_path / "secret.key", Fernet.generate_key().decode())
    missing = Vault(tmp_path / "nowhere" / "secret.key")

    with pytest.raises(SecretKeyError) as wrong:
        resolve(stored, other, datastore="blob")
    with pytest.raises(SecretKeyError) as absent:
        resolve(stored, missing, datastore="blob")

    assert "Datastore 'blob'" in str(wrong.value) and "cannot be decrypted" in str(wrong.value)
    assert "THRESHER_SECRET_KEY" in str(wrong.value.fix)
    assert "no key to decrypt it" in str(absent.value) and "THRESHER_SECRET_KEY" in str(absent.value.fix)
    assert "s3cr3t" not in str(wrong.value) + str(absent.value)


def test_a_malformed_environment_key_is_refused_without_being_echoed(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyError) as caught:
        Vault(tmp_path / "secret.key", "not-a-key-value").encrypt("x")

    assert "THRESHER_SECRET_KEY is not a valid key" in str(caught.value)
    assert "not-a-key-value" not in str(caught.value)
