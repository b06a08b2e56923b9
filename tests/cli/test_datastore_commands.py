"""``thresher datastore create/show/list`` for remote datastores on real servers (Azurite, moto's S3).

A secret given inline is checked, stored encrypted, and never shown again: not by ``show`` or ``list``,
not in any file of the workspace (the SQLite database's bytes included), not in an error message.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli.conftest import Result
from tests.servers import AzuriteServer, MotoS3Server, unused_port

SHOWN = "<secret: stored encrypted>"


def _write(tmp_path: Path, spec: dict[str, Any], name: str = "datastore.yml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec))
    return path


def _assert_nowhere(home: Path, secret: str) -> None:
    """No file under the workspace holds the secret (nor the secret file's key outside secret.key)."""
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "thresher.db" for p in files)
    for path in files:
        assert secret.encode() not in path.read_bytes(), f"{path} holds the secret"


def test_azure_blob_with_inline_key_is_checked_stored_encrypted_and_never_shown(
    cli: Callable[..., Result], home: Path, tmp_path: Path, azurite: AzuriteServer
) -> None:
    container = azurite.create_container()
    path = _write(tmp_path, azurite.datastore_spec("blob", container))

    created = cli("datastore", "create", "-f", str(path))
    shown = cli("datastore", "show", "-n", "blob")
    listed = cli("datastore", "list")
    table = cli("datastore", "list", "-o", "table")

    assert created.code == 0, created.err
    for result in (created, shown, listed, table):
        assert azurite.account_key not in result.out + result.err
    assert created.json()["credentials"] == {"account_key": SHOWN}
    assert shown.json()["credentials"] == {"account_key": SHOWN}
    assert shown.json()["container_name"] == container
    assert {d["name"]: d.get("credentials") for d in listed.json()}["blob"] == {"account_key": SHOWN}
    _assert_nowhere(home, azurite.account_key)
    key_file = home / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_s3_with_inline_keys_is_checked_stored_encrypted_and_never_shown(
    cli: Callable[..., Result], home: Path, tmp_path: Path, moto_s3: MotoS3Server
) -> None:
    bucket = moto_s3.create_bucket()
    path = _write(tmp_path, {**moto_s3.datastore_spec("bucket", bucket), "url": f"s3://{bucket}/scoring"})

    created = cli("datastore", "create", "-f", str(path))
    shown = cli("datastore", "show", "-n", "bucket")
    listed = cli("datastore", "list")

    assert created.code == 0, created.err
    for result in (created, shown, listed):
        assert moto_s3.secret_access_key not in result.out + result.err
        assert moto_s3.access_key_id not in result.out + result.err
    assert shown.json()["credentials"] == {"access_key_id": SHOWN, "secret_access_key": SHOWN}
    assert shown.json()["url"] == f"s3://{bucket}/scoring"
    _assert_nowhere(home, moto_s3.secret_access_key)


@pytest.mark.local_only("an env reference is read in the server's environment; this test sets it in its own")
def test_env_and_file_references_are_kept_as_written_and_read_when_used(
    cli: Callable[..., Result],
    home: Path,
    tmp_path: Path,
    azurite: AzuriteServer,
    moto_s3: MotoS3Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_AZURE_KEY", azurite.account_key)
    (tmp_path / "s3-secret.txt").write_text(moto_s3.secret_access_key + "\n")
    blob = azurite.datastore_spec("blob", azurite.create_container(), account_key={"env": "TEST_AZURE_KEY"})
    bucket = moto_s3.datastore_spec(
        "bucket",
        moto_s3.create_bucket(),
        access_key_id=moto_s3.access_key_id,
        secret_access_key={"file": "s3-secret.txt"},  # beside the YAML file
    )

    made = [
        cli("datastore", "create", "-f", str(_write(tmp_path, spec, f"{spec['name']}.yml"))) for spec in (blob, bucket)
    ]

    assert [m.code for m in made] == [0, 0], [m.err for m in made]
    assert cli("datastore", "show", "-n", "blob").json()["credentials"] == {"account_key": {"env": "TEST_AZURE_KEY"}}
    assert cli("datastore", "show", "-n", "bucket").json()["credentials"] == {
        "access_key_id": SHOWN,
        "secret_access_key": {"file": str(tmp_path / "s3-secret.txt")},
    }
    _assert_nowhere(home, azurite.account_key)
    _assert_nowhere(home, moto_s3.secret_access_key)


def test_a_missing_environment_variable_is_named(
    cli: Callable[..., Result], tmp_path: Path, azurite: AzuriteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_NO_SUCH_KEY", raising=False)
    spec = azurite.datastore_spec("blob", azurite.create_container(), account_key={"env": "TEST_NO_SUCH_KEY"})

    result = cli("datastore", "create", "-f", str(_write(tmp_path, spec)))

    assert result.code != 0
    assert "Datastore 'blob'" in result.err and "TEST_NO_SUCH_KEY" in result.err and "not set" in result.err


@pytest.mark.parametrize("server", ["azurite", "moto_s3"])
def test_a_wrong_key_fails_at_create_naming_the_datastore_never_the_key(
    cli: Callable[..., Result], tmp_path: Path, server: str, request: pytest.FixtureRequest
) -> None:
    wrong = "WRONGKEY" + "x" * 80 + "=="
    if server == "azurite":
        azurite: AzuriteServer = request.getfixturevalue("azurite")
        spec = azurite.datastore_spec("blob", azurite.create_container(), account_key=wrong)
    else:
        moto: MotoS3Server = request.getfixturevalue("moto_s3")
        spec = moto.datastore_spec(
            "blob", moto.create_bucket(), access_key_id=moto.access_key_id, secret_access_key=wrong
        )

    result = cli("datastore", "create", "-f", str(_write(tmp_path, spec)))

    assert result.code != 0
    assert "Datastore 'blob'" in result.err and "refused the credentials" in result.err
    assert "Check credentials" in result.err
    assert wrong not in result.out + result.err
    assert cli("datastore", "show", "-n", "blob").code != 0  # nothing was stored


def test_a_missing_container_or_bucket_is_named_with_the_command_that_creates_it(
    cli: Callable[..., Result], tmp_path: Path, azurite: AzuriteServer, moto_s3: MotoS3Server
) -> None:
    blob = cli("datastore", "create", "-f", str(_write(tmp_path, azurite.datastore_spec("blob", "no-such-container"))))
    bucket = cli("datastore", "create", "-f", str(_write(tmp_path, moto_s3.datastore_spec("bkt", "no-such-bucket"))))

    assert blob.code != 0 and bucket.code != 0
    assert "Datastore 'blob'" in blob.err and "container 'no-such-container'" in blob.err
    assert "does not exist" in blob.err and "az storage container create" in blob.err
    assert "Datastore 'bkt'" in bucket.err and "bucket 'no-such-bucket'" in bucket.err
    assert "aws s3 mb s3://no-such-bucket" in bucket.err
    assert azurite.account_key not in blob.err and moto_s3.secret_access_key not in bucket.err


def test_an_unreachable_endpoint_fails_fast(
    cli: Callable[..., Result], tmp_path: Path, azurite: AzuriteServer, moto_s3: MotoS3Server
) -> None:
    port = unused_port()
    blob = {**azurite.datastore_spec("blob", "c"), "endpoint": f"http://127.0.0.1:{port}"}
    bucket = {**moto_s3.datastore_spec("bkt", "b"), "endpoint_url": f"http://127.0.0.1:{port}"}

    started = time.monotonic()
    results = [cli("datastore", "create", "-f", str(_write(tmp_path, spec))) for spec in (blob, bucket)]
    elapsed = time.monotonic() - started

    for result, name in zip(results, ("blob", "bkt"), strict=True):
        assert result.code != 0
        assert f"Datastore '{name}': cannot reach http://127.0.0.1:{port}" in result.err
        assert "Check that the storage server is running" in result.err
        assert azurite.account_key not in result.err and moto_s3.secret_access_key not in result.err
    assert elapsed < 20
