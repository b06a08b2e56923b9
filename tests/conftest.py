"""Fixtures shared by every test package. One section per real thing a test can ask for."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from tests import processes
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


# ---------------------------------------------------------------------------------------------
# thresher's own processes. The suite runs with warm compute off (a test that wants it turns it on
# for its workspace), and no test may leave a worker, a template or a runner of its workspaces
# behind: after each test, those still alive are waited for (a runner exits a few seconds after
# its queue empties), and any left then fails the test. Processes are told apart from those of
# other test sessions on the machine by this session's temporary folder in their environment, or in
# their working directory: a worker forked from a template has the template's environment, but runs
# in its code folder. The templates of this process live as long as it does, as in a runner.
# ---------------------------------------------------------------------------------------------

LEFTOVER_WAIT_SECONDS = 15.0


@pytest.fixture(scope="session", autouse=True)
def _warm_compute_off() -> Iterator[None]:
    # Runners exit 0.5 s after their queue empties (3 s outside tests), so that a test that ran jobs
    # does not wait long for its runner to be gone; a later invoke starts another.
    # Online endpoints are served only in the tests that serve them (tests/online): elsewhere creating one
    # starts no serving process.
    values = {
        "THRESHER_IDLE_TIME_BEFORE_SCALE_DOWN": "0",
        "THRESHER_RUNNER_IDLE_EXIT": "0.5",
        "THRESHER_ONLINE_AUTOSTART": "0",
    }
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    yield
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def thresher_processes(marker: str) -> dict[int, str]:
    """thresher's processes (workers, templates, runners) whose environment or working directory mentions
    ``marker``, less this process's own templates: pid -> command."""
    return processes.thresher_processes(environ=marker, cwd_under=marker, skip_own_templates=True)


@pytest.fixture(autouse=True)
def _no_thresher_process_left(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    yield
    if not os.path.isdir("/proc"):
        return
    marker = str(tmp_path_factory.getbasetemp())
    deadline = time.monotonic() + LEFTOVER_WAIT_SECONDS
    left = thresher_processes(marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = thresher_processes(marker)
    if left:
        for pid in left:  # the next test must not inherit them
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        listed = "\n".join(f"  {pid}: {command}" for pid, command in left.items())
        pytest.fail(f"{request.node.nodeid} left thresher processes behind:\n{listed}", pytrace=False)
