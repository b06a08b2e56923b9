"""Content-addressed uploads onto remote datastores (Azurite, moto): the local layout, stored once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers import AzuriteServer, MotoS3Server
from thresher.storage.datastore import COMPLETE, UPLOADS, RemoteDatastore
from thresher.storage.remote import RemoteURL


def _root(server: str, request: pytest.FixtureRequest) -> RemoteURL:
    if server == "azurite":
        azurite: AzuriteServer = request.getfixturevalue("azurite")
        return RemoteURL(f"abfs://{azurite.create_container()}", azurite.storage_options, "blob")
    moto: MotoS3Server = request.getfixturevalue("moto_s3")
    return RemoteURL(f"s3://{moto.create_bucket()}/root", moto.storage_options, "bucket")


@pytest.mark.parametrize("server", ["azurite", "moto_s3"])
def test_a_folder_is_stored_once_under_its_content_hash(
    server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "weights.bin").write_bytes(b"\x00" * 1000)
    (model / "sub" / "config.json").write_text('{"a": 1}')
    store = RemoteDatastore("ds", _root(server, request))

    first = store.put_content(model)
    second = store.put_content(model)
    fs, base = first.target.fs()

    assert (first.reused, second.reused) == (False, True)
    assert first.target.url == second.target.url
    assert first.target.url.endswith(f"/{UPLOADS}/{first.content_hash}/model")
    assert (first.files, first.bytes) == (2, 1008)
    assert fs.cat_file(f"{base}/sub/config.json") == b'{"a": 1}'
    assert fs.cat_file(f"{base}/weights.bin") == b"\x00" * 1000


@pytest.mark.parametrize("server", ["azurite", "moto_s3"])
def test_an_interrupted_upload_without_its_marker_is_written_again(
    server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    source = tmp_path / "data.csv"
    source.write_text("a,b\n1,2\n")
    store = RemoteDatastore("ds", _root(server, request))
    stored = store.put_content(source)
    fs, base = stored.target.fs()
    fs.rm_file(base.rsplit("/", 1)[0] + f"/{COMPLETE}")
    fs.pipe_file(base, b"half")  # what a killed upload may leave

    again = store.put_content(source)

    assert again.reused is False
    assert fs.cat_file(base) == b"a,b\n1,2\n"
