"""Fixtures shared by every test package. One section per real thing a test can ask for."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from tests.pg import PostgresError, PostgresServer
from tests.ray_cluster import RayTestCluster
from tests.servers import AzuriteServer, MotoS3Server, ServerError

# ---------------------------------------------------------------------------------------------
# PostgreSQL: one throwaway server per test session (tests/pg.py), started on first use.
# A server that cannot start fails the tests that need it, with its log; it never skips them.
# ---------------------------------------------------------------------------------------------

_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL server on 127.0.0.1; stopped and deleted at the end of the session."""
    try:
        server = PostgresServer()
    except PostgresError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        server.start()
    except PostgresError as exc:
        server.stop()
        pytest.fail(f"The test PostgreSQL server did not start:\n{exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """``postgresql+psycopg://...@127.0.0.1:PORT/thresher_test``: one database shared by the session."""
    return postgres_server.create_database("thresher_test")


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of an empty database of its own for one test, dropped afterwards."""
    name = f"thresher_t{next(_database_numbers)}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


# ---------------------------------------------------------------------------------------------
# Storage servers (tests/servers.py): Azurite's blob service and moto's S3 server, one of each per
# test session, started on first use, on 127.0.0.1. Each yields its endpoint, credentials,
# create_container()/create_bucket(), datastore_spec(name, container) (a datastore's YAML as a dict),
# storage_options (for fsspec) and pid/pause()/resume()/paused() to play an outage with SIGSTOP.
# Tests must leave them running (paused() resumes even when the test fails).
#
# Ray: one real multi-node cluster per test session (tests/ray_cluster.py), started on first use
# (about 10 s) and shut down at the end. This process is connected to it as a driver.
# ---------------------------------------------------------------------------------------------


_Server = TypeVar("_Server", AzuriteServer, MotoS3Server)


def _serving(make: Callable[[], _Server]) -> Iterator[_Server]:
    """Start a storage server for the session (a failure to start fails the tests that need it)."""
    server: _Server | None = None
    try:
        server = make()
        server.start()
    except ServerError as exc:
        if server is not None:
            server.stop()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def azurite() -> Iterator[AzuriteServer]:
    """Azurite's blob service, account ``devstoreaccount1`` with its published key; data in memory."""
    yield from _serving(AzuriteServer)


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3Server]:
    """moto's S3 server; requests must be signed with ``moto_s3.access_key_id``/``secret_access_key``."""
    yield from _serving(MotoS3Server)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayTestCluster]:
    """A 3-node Ray cluster (1 CPU each, no dashboard) on this machine; skipped where Ray is not installed."""
    pytest.importorskip("ray", reason="the ray executor needs thresher[ray]")
    cluster = RayTestCluster.start(nodes=3)
    try:
        yield cluster
    finally:
        cluster.stop()
