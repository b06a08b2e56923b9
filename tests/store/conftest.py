"""The metadata store's backends: every test that takes ``backend`` or ``store`` runs on each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pg import PostgresServer, free_port
from thresher.store import SqlStore


@dataclass(frozen=True)
class Backend:
    """A database for one test: ``url`` is empty and untouched; ``unusable`` cannot be opened."""

    name: str
    url: str
    unusable: tuple[str, ...]
    secret: str  # a password inside an unusable URL that no message may show


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    secret = "hunter2-not-shown"
    if request.param == "sqlite":
        blocker = tmp_path / "a-file"
        blocker.write_text("a file where the database's folder should be\n")
        return Backend(
            name="sqlite",
            url=f"sqlite:///{tmp_path / 'workspace' / 'thresher.db'}",
            unusable=(f"sqlite:///{blocker / 'workspace' / 'thresher.db'}",),
            secret=secret,
        )
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url: str = request.getfixturevalue("fresh_postgres_url")
    return Backend(
        name="postgres",
        url=url,
        unusable=(
            f"postgresql+psycopg://thresher:{secret}@127.0.0.1:{free_port()}/thresher",  # nothing listens
            f"postgresql+psycopg://thresher:{secret}@127.0.0.1:{server.port}/thresher_test",  # bad password
        ),
        secret=secret,
    )


@pytest.fixture
def store(backend: Backend) -> Iterator[SqlStore]:
    """An open store on an empty database of each backend."""
    opened = SqlStore(backend.url)
    yield opened
    opened.close()
