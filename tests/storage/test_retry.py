"""Transient storage errors are retried, others are not; an outage past the limit leaves a clear headline.

The errors classified are the libraries' own, most of them raised by real servers (Azurite, moto) or a
real refused connection; outages are played by SIGSTOPping moto's server.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
import time
from typing import Any

import aiohttp
import boto3
import botocore.config
import botocore.exceptions
import fsspec
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError
from azure.storage.blob import BlobServiceClient

from tests.servers import AzuriteServer, MotoS3Server, unused_port
from thresher.errors import StorageUnavailableError
from thresher.storage.retry import Fault, classify, retrying


def _raised(operation: Any) -> BaseException:
    try:
        operation()
    except Exception as exc:
        return exc
    raise AssertionError("the operation did not fail")


def _s3(moto: MotoS3Server, **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=moto.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=moto.access_key_id,
        aws_secret_access_key=config.pop("secret", moto.secret_access_key),
        config=botocore.config.Config(retries={"max_attempts": 1}, **config),
    )


def test_botocore_and_s3fs_errors_from_a_real_server(moto_s3: MotoS3Server) -> None:
    bucket = moto_s3.create_bucket()
    wrong = _s3(moto_s3, secret="wrong")
    s3fs_wrong = fsspec.filesystem("s3", **{**moto_s3.storage_options, "secret": "wrong"}, skip_instance_cache=True)
    unreachable = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{unused_port()}",
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=1),
    )

    assert classify(_raised(lambda: wrong.head_bucket(Bucket=bucket))) is Fault.AUTH
    assert classify(_raised(lambda: s3fs_wrong.cat_file(f"{bucket}/x"))) is Fault.AUTH
    assert classify(_raised(lambda: _s3(moto_s3).get_object(Bucket=bucket, Key="nope"))) is Fault.NOT_FOUND
    assert classify(_raised(lambda: _s3(moto_s3).list_objects_v2(Bucket="no-such-bucket"))) is Fault.NOT_FOUND
    endpoint_error = _raised(lambda: unreachable.list_buckets())
    assert isinstance(endpoint_error, botocore.exceptions.EndpointConnectionError)
    assert classify(endpoint_error) is Fault.UNREACHABLE
    with moto_s3.paused():
        timeout = _raised(lambda: _s3(moto_s3, read_timeout=0.5).list_buckets())
    assert isinstance(timeout, botocore.exceptions.ReadTimeoutError) and classify(timeout) is Fault.TIMEOUT


def test_botocore_throttling_and_server_errors() -> None:
    def client_error(code: str, status: int) -> botocore.exceptions.ClientError:
        return botocore.exceptions.ClientError(
            {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject"
        )

    assert classify(client_error("SlowDown", 503)) is Fault.THROTTLED
    assert classify(client_error("InternalError", 500)) is Fault.SERVER
    assert classify(client_error("RequestTimeout", 400)) is Fault.TIMEOUT
    assert classify(client_error("InvalidArgument", 400)) is Fault.OTHER
    assert classify(botocore.exceptions.ConnectionClosedError(endpoint_url="http://x")) is Fault.DROPPED


def test_azure_errors_from_a_real_server(azurite: AzuriteServer) -> None:
    wrong_key = azurite.connection_string.replace(azurite.account_key, "A" * 86 + "==")
    container = azurite.create_container()
    refused = BlobServiceClient(f"http://127.0.0.1:{unused_port()}/devstoreaccount1", retry_total=0)

    auth = _raised(
        lambda: (
            BlobServiceClient.from_connection_string(wrong_key)
            .get_container_client(container)
            .get_container_properties()
        )
    )
    missing = _raised(
        lambda: (
            BlobServiceClient.from_connection_string(azurite.connection_string)
            .get_container_client("no-such-container")
            .get_container_properties()
        )
    )
    unreachable = _raised(lambda: refused.get_container_client("c").get_container_properties())

    assert isinstance(auth, HttpResponseError) and classify(auth) is Fault.AUTH
    assert isinstance(missing, ResourceNotFoundError) and classify(missing) is Fault.NOT_FOUND
    assert isinstance(unreachable, ServiceRequestError) and classify(unreachable) is Fault.UNREACHABLE


def test_aiohttp_and_os_errors() -> None:
    async def get(url: str) -> None:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            response.raise_for_status()

    refused = _raised(lambda: asyncio.run(get(f"http://127.0.0.1:{unused_port()}/x")))

    assert isinstance(refused, aiohttp.ClientConnectorError) and classify(refused) is Fault.UNREACHABLE
    assert classify(aiohttp.ServerDisconnectedError()) is Fault.DROPPED
    assert classify(aiohttp.ClientResponseError(None, (), status=429)) is Fault.THROTTLED  # type: ignore[arg-type]
    assert classify(aiohttp.ClientResponseError(None, (), status=502)) is Fault.SERVER  # type: ignore[arg-type]
    assert classify(aiohttp.ClientResponseError(None, (), status=403)) is Fault.AUTH  # type: ignore[arg-type]
    assert classify(ConnectionResetError(errno.ECONNRESET, "reset")) is Fault.DROPPED
    assert classify(TimeoutError()) is Fault.TIMEOUT
    assert classify(socket.gaierror(-2, "Name or service not known")) is Fault.UNREACHABLE
    assert classify(OSError(errno.EREMOTEIO, "500")) is Fault.SERVER
    assert classify(FileNotFoundError("x")) is Fault.NOT_FOUND
    assert classify(ValueError("a bug")) is Fault.OTHER
    wrapped = OSError("upload failed")
    wrapped.__cause__ = ConnectionResetError()
    assert classify(wrapped) is Fault.DROPPED


def test_transient_errors_are_retried_with_growing_capped_delays() -> None:
    failures = [ConnectionResetError(), TimeoutError(), OSError(errno.EREMOTEIO, "500")] * 3
    delays: list[float] = []

    def flaky() -> str:
        if failures:
            raise failures.pop()
        return "done"

    assert retrying("s3://b/x", flaky, first_delay=0.1, max_delay=0.4, sleep=delays.append) == "done"
    assert len(delays) == 9
    assert delays[0] <= 0.1 and max(delays) <= 0.4 and delays[-1] >= 0.2


def test_a_wrong_key_is_not_retried(moto_s3: MotoS3Server) -> None:
    bucket = moto_s3.create_bucket()
    wrong = fsspec.filesystem("s3", **{**moto_s3.storage_options, "secret": "wrong"}, skip_instance_cache=True)
    calls = []

    def read() -> bytes:
        calls.append(1)
        return bytes(wrong.cat_file(f"{bucket}/x"))

    with pytest.raises(PermissionError):
        retrying("s3://b/x", read)
    assert len(calls) == 1


def _fast_failing_s3(moto: MotoS3Server) -> Any:
    fs = fsspec.filesystem(
        "s3",
        **moto.storage_options,
        config_kwargs={"connect_timeout": 1, "read_timeout": 0.5, "retries": {"max_attempts": 1}},
        skip_instance_cache=True,
    )
    fs.retries = 1  # s3fs's own loop: the one under test is retrying()
    return fs


def test_a_few_seconds_of_outage_are_waited_out(moto_s3: MotoS3Server) -> None:
    bucket = moto_s3.create_bucket()
    fs = _fast_failing_s3(moto_s3)
    fs.pipe_file(f"{bucket}/x", b"payload")
    resumer = threading.Timer(3.0, moto_s3.resume)

    moto_s3.pause()
    started = time.monotonic()
    try:
        resumer.start()
        data = retrying(f"s3://{bucket}/x", lambda: fs.cat_file(f"{bucket}/x"), outage_limit=30)
    finally:
        resumer.cancel()
        moto_s3.resume()

    assert data == b"payload"
    assert time.monotonic() - started >= 2.5


def test_an_outage_past_the_limit_names_the_place_and_says_the_job_is_resumable(moto_s3: MotoS3Server) -> None:
    bucket = moto_s3.create_bucket()
    fs = _fast_failing_s3(moto_s3)

    with moto_s3.paused(), pytest.raises(StorageUnavailableError) as caught:
        retrying(
            "datastore 'bucket' (azureml://datastores/bucket/paths/x)",
            lambda: fs.cat_file(f"{bucket}/x"),
            outage_limit=1.5,
        )

    message = str(caught.value)
    assert message.startswith("Storage at datastore 'bucket' (azureml://datastores/bucket/paths/x) has failed for")
    assert "over the outage limit of 1.5 s" in message and "The job is resumable" in message
    assert "thresher job resume" in str(caught.value.fix)
