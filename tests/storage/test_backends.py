"""Datastore YAML -> the RemoteURL that opens it, for every type and endpoint form; and the spec's rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from thresher.errors import SpecError
from thresher.specs import DatastoreSpec, parse_spec
from thresher.storage.backends import datastore_root
from thresher.storage.remote import is_remote


def _spec(**fields: Any) -> DatastoreSpec:
    spec = parse_spec({"name": "ds", **fields}, "datastore", base_dir=Path.cwd())
    assert isinstance(spec, DatastoreSpec)
    return spec


def test_azure_blob_on_azure_uses_the_account_and_its_key() -> None:
    spec = _spec(type="azure_blob", account_name="acct", container_name="data")

    root = datastore_root(spec, {"account_key": "k"})

    assert root.url == "abfs://data"
    assert root.options["account_name"] == "acct" and root.options["account_key"] == "k"
    assert "connection_string" not in root.options and "account_host" not in root.options
    assert root.label == "datastore 'ds' (azureml://datastores/ds/paths)"
    assert root.join("in/a.csv").label == "datastore 'ds' (azureml://datastores/ds/paths/in/a.csv)"


def test_azure_sovereign_cloud_endpoint_becomes_the_account_host() -> None:
    spec = _spec(type="azure_data_lake_gen2", account_name="acct", filesystem="fs", endpoint="core.chinacloudapi.cn")

    root = datastore_root(spec, {"sas_token": "?sv=1&sig=x"})

    assert root.url == "abfs://fs"
    assert root.options["account_host"] == "acct.blob.core.chinacloudapi.cn"
    assert root.options["sas_token"] == "?sv=1&sig=x"


@pytest.mark.parametrize(
    ("endpoint", "protocol", "blob_endpoint"),
    [
        ("127.0.0.1:10000", "http", "http://127.0.0.1:10000/devstoreaccount1"),
        ("http://127.0.0.1:10000", "http", "http://127.0.0.1:10000/devstoreaccount1"),
        ("http://azurite:10000/devstoreaccount1/", None, "http://azurite:10000/devstoreaccount1"),
    ],
)
def test_an_emulator_endpoint_becomes_a_connection_string(
    endpoint: str, protocol: str | None, blob_endpoint: str
) -> None:
    fields = {"protocol": protocol} if protocol else {}
    spec = _spec(type="azure_blob", account_name="devstoreaccount1", container_name="c", endpoint=endpoint, **fields)

    root = datastore_root(spec, {"account_key": "KEY"})

    assert root.options["connection_string"] == (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=KEY;BlobEndpoint={blob_endpoint};"
    )


def test_s3_with_an_endpoint_url_and_keys() -> None:
    spec = _spec(type="s3", url="s3://bucket/prefix/", endpoint_url="http://127.0.0.1:9000")

    root = datastore_root(spec, {"access_key_id": "AK", "secret_access_key": "SK"})

    assert root.url == "s3://bucket/prefix"
    assert (root.options["key"], root.options["secret"], root.options["endpoint_url"]) == (
        "AK",
        "SK",
        "http://127.0.0.1:9000",
    )


def test_no_credentials_leave_the_default_chain_and_anonymous_is_explicit() -> None:
    s3 = datastore_root(_spec(type="s3", url="s3://b"), {})
    public = datastore_root(_spec(type="s3", url="s3://b"), {"anonymous": True})
    gcs = datastore_root(_spec(type="gcs", url="gcs://b/p"), {"anonymous": True})

    assert "key" not in s3.options and "anon" not in s3.options
    assert public.options["anon"] is True
    assert (gcs.url, gcs.options["token"]) == ("gs://b/p", "anon")


def test_a_local_datastore_is_a_file_url_that_is_not_remote(tmp_path: Path) -> None:
    root = datastore_root(_spec(type="local", path=str(tmp_path)), {})
    (tmp_path / "a.txt").write_text("x")

    fs, path = root.join("a.txt").fs()

    assert root.url == tmp_path.as_uri() and not is_remote(root.url)
    assert fs.cat_file(path) == b"x"


def test_credential_problems_are_reported_at_once_without_echoing_values() -> None:
    with pytest.raises(SpecError) as caught:
        _spec(
            type="s3",
            url="s3://b",
            endpoint="x",
            credentials={"account_key": "SECRETVALUE1", "secret_access_key": "<secret: stored encrypted>"},
        )

    message = str(caught.value)
    assert "credentials.account_key is not a credential of type s3" in message
    assert "the marker that show prints" in message
    assert "endpoint is set, but only types azure_blob" in message
    assert "SECRETVALUE1" not in message
    assert "SECRETVALUE1" not in repr(_spec(type="s3", url="s3://b", credentials={"secret_access_key": "SECRETVALUE1"}))
