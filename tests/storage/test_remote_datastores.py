"""``Instance.remote``: every URI spelling a user writes, opened on real servers with the right credentials."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.servers import AzuriteServer, MotoS3Server
from thresher import Workspace
from thresher.errors import SecretKeyError, StorageError
from thresher.specs import parse_spec
from thresher.storage.remote import RemoteURL


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace(tmp_path / "ws")
    yield workspace
    workspace.instance.close()


@pytest.fixture
def blob(ws: Workspace, azurite: AzuriteServer) -> str:
    """A container with ``in/a.txt``, registered as datastore 'blob'."""
    container = azurite.create_container()
    ws.datastores.create(parse_spec(azurite.datastore_spec("blob", container), "datastore", base_dir=Path.cwd()))
    _write(RemoteURL(f"abfs://{container}/in/a.txt", azurite.storage_options), b"from azurite")
    return container


@pytest.fixture
def bucket(ws: Workspace, moto_s3: MotoS3Server) -> str:
    """A bucket with ``root/in/a.txt``, registered as datastore 'bucket' (rooted at s3://<bucket>/root)."""
    name = moto_s3.create_bucket()
    spec = {**moto_s3.datastore_spec("bucket", name), "url": f"s3://{name}/root"}
    ws.datastores.create(parse_spec(spec, "datastore", base_dir=Path.cwd()))
    _write(RemoteURL(f"s3://{name}/root/in/a.txt", moto_s3.storage_options), b"from moto")
    return name


def _write(target: RemoteURL, data: bytes) -> None:
    fs, path = target.fs()
    with fs.open(path, "wb") as handle:
        handle.write(data)


def _read(target: RemoteURL) -> bytes:
    fs, path = target.fs()
    with fs.open(path, "rb") as handle:
        return bytes(handle.read())


@pytest.mark.parametrize(
    "spelling",
    [
        "azureml://datastores/blob/paths/in/a.txt",
        "abfss://{c}@devstoreaccount1.dfs.core.windows.net/in/a.txt",
        "wasbs://{c}@devstoreaccount1.blob.core.windows.net/in/a.txt",
        "az://{c}/in/a.txt",
        "abfs://{c}/in/a.txt",
        "https://devstoreaccount1.blob.core.windows.net/{c}/in/a.txt",
    ],
)
def test_azure_spellings_open_with_the_datastore_of_their_container(ws: Workspace, blob: str, spelling: str) -> None:
    uri = spelling.format(c=blob)

    target = ws.instance.remote(uri)

    assert _read(target) == b"from azurite"
    assert target.datastore == "blob"
    assert target.label == f"datastore 'blob' ({uri})"


@pytest.mark.parametrize("spelling", ["azureml://datastores/bucket/paths/in/a.txt", "s3://{b}/root/in/a.txt"])
def test_s3_spellings_open_with_the_datastore_of_their_bucket(ws: Workspace, bucket: str, spelling: str) -> None:
    target = ws.instance.remote(spelling.format(b=bucket))

    assert _read(target) == b"from moto"
    assert target.datastore == "bucket"


def test_urls_outside_every_datastore_get_no_credentials(ws: Workspace, bucket: str) -> None:
    outside = ws.instance.remote(f"s3://{bucket}/elsewhere/x")  # the bucket, but not below the datastore's root
    other = ws.instance.remote("gs://some-bucket/x.csv")
    public = ws.instance.remote("https://example.com/files/x.csv")

    assert (outside.datastore, dict(outside.options)) == (None, {})
    assert (other.url, other.datastore, dict(other.options)) == ("gs://some-bucket/x.csv", None, {})
    assert (public.url, dict(public.options)) == ("https://example.com/files/x.csv", {})


@pytest.mark.parametrize("server", ["azurite", "moto_s3"])
def test_a_file_round_trips_through_a_datastore(ws: Workspace, server: str, request: pytest.FixtureRequest) -> None:
    name = "blob" if server == "azurite" else "bucket"
    request.getfixturevalue(name)
    payload = bytes(range(256)) * 4096  # 1 MiB, several blocks

    _write(ws.instance.remote(f"azureml://datastores/{name}/paths/out/part-0.bin"), payload)
    root = ws.instance.datastore_root(name)
    fs, path = root.join("out").fs()

    assert _read(root.join("out/part-0.bin")) == payload
    assert [entry.rsplit("/", 1)[-1] for entry in fs.ls(path, detail=False)] == ["part-0.bin"]


def test_local_datastores_keep_their_paths_and_open_as_file_urls(ws: Workspace) -> None:
    local = ws.instance.resolve_local_path("azureml://datastores/workspaceblobstore/paths/in/a.txt")
    local.parent.mkdir(parents=True)
    local.write_text("local")

    target = ws.instance.remote("azureml://datastores/workspaceblobstore/paths/in/a.txt")

    assert target.url == local.as_uri()
    assert _read(target) == b"local"


def test_a_remote_datastore_has_no_local_path(ws: Workspace, bucket: str) -> None:
    with pytest.raises(StorageError) as caught:
        ws.instance.resolve_local_path("azureml://datastores/bucket/paths/in/a.txt")

    assert "Datastore 'bucket' is of type 's3'" in str(caught.value)


def test_a_runner_with_another_workspace_key_is_told_which_key_to_set(
    ws: Workspace, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THRESHER_SECRET_KEY", Fernet.generate_key().decode())
    elsewhere = Workspace(tmp_path / "ws")  # the same database, another machine's key

    with pytest.raises(SecretKeyError) as caught:
        elsewhere.instance.remote("azureml://datastores/bucket/paths/in/a.txt")
    monkeypatch.setenv("THRESHER_SECRET_KEY", (tmp_path / "ws" / "secret.key").read_text().strip())
    with_the_key = Workspace(tmp_path / "ws")

    assert "Datastore 'bucket'" in str(caught.value) and "THRESHER_SECRET_KEY" in str(caught.value.fix)
    assert _read(with_the_key.instance.remote("azureml://datastores/bucket/paths/in/a.txt")) == b"from moto"
    elsewhere.instance.close()
    with_the_key.instance.close()
