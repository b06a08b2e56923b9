"""Opening the store on SQLite and PostgreSQL: migrations, concurrent processes, unusable databases."""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.synchronize import Barrier
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from thresher.errors import StoreError
from thresher.store import SqlStore, open_store
from thresher.store.migrate import alembic_config
from thresher.store.schema import VERSION_TABLE, metadata

from .conftest import Backend

PER_WORKER = 15


def _create_versions(url: str, barrier: Barrier, results: Any) -> None:
    """In a child process: open the store when the other child does, then race it for versions."""
    try:
        barrier.wait(timeout=60)
        store = SqlStore(url)  # both children migrate the fresh database at once
        try:
            barrier.wait(timeout=60)
            results.put([store.create_asset("model", "race", spec={}, info={}).version for _ in range(PER_WORKER)])
        finally:
            store.close()
    except Exception as exc:
        barrier.abort()  # the other child stops waiting for this one
        results.put(f"{type(exc).__name__}: {exc}")


def test_two_processes_open_and_number_versions_at_once(backend: Backend) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [context.Process(target=_create_versions, args=(backend.url, barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=180) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert all(isinstance(outcome, list) for outcome in outcomes), outcomes
    numbers = sorted(int(version) for outcome in outcomes for version in outcome)
    assert numbers == list(range(1, 2 * PER_WORKER + 1))


def test_threads_sharing_a_store_number_versions_apart(store: SqlStore) -> None:
    got: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def create() -> None:
        try:
            start.wait(timeout=30)
            for _ in range(10):
                got.append(store.create_asset("model", "threads", spec={}, info={}).version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(map(int, got)) == list(range(1, 41))


def _revisions(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(
                MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_heads()
            )
    finally:
        engine.dispose()


def test_opening_again_keeps_the_data_and_migrates_nothing(backend: Backend) -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    with open_store(backend.url) as first:
        first.create_asset("model", "m", spec={"kept": True}, info={})
    assert _revisions(backend.url) == heads
    with open_store(backend.url) as second, open_store(backend.url) as third:
        assert second.get_asset("model", "m").spec == {"kept": True}
        assert [r.version for r in third.list_assets("model")] == ["1"]
    assert _revisions(backend.url) == heads


def test_migrations_build_the_schema_module(backend: Backend) -> None:
    open_store(backend.url).close()
    engine = create_engine(backend.url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            assert compare_metadata(context, metadata) == []
            assert set(inspect(connection).get_table_names()) >= {"assets", "resources", "deployments"}
    finally:
        engine.dispose()


def test_a_database_from_a_newer_thresher_is_refused(backend: Backend) -> None:
    open_store(backend.url).close()
    engine = create_engine(backend.url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match="schema revision 9999, which this thresher does not know") as caught:
        open_store(backend.url)
    assert "Upgrade thresher" in (caught.value.fix or "")


def test_an_unusable_database_raises_store_error(backend: Backend) -> None:
    for url in backend.unusable:
        with pytest.raises(StoreError, match=r"^Cannot use the metadata database ") as caught:
            open_store(url)
        message = str(caught.value)
        assert backend.secret not in message and backend.secret not in (caught.value.fix or "")
        shown = url.replace(backend.secret, "***")
        assert shown in message, message
        assert caught.value.fix


def test_a_url_of_another_database_is_refused() -> None:
    with pytest.raises(StoreError, match="uses mysql; the metadata store runs on SQLite or PostgreSQL"):
        open_store("mysql://user:pw@localhost/db")
    with pytest.raises(StoreError, match="is not a database URL"):
        open_store("not a url")
