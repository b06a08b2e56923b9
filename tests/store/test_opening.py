"""Opening the store on SQLite and PostgreSQL: migrations, concurrent processes, unusable databases."""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from tests.imports import run_and_list_imports
from thresher.errors import StoreError
from thresher.store import SqlStore, open_store
from thresher.store.migrate import HEAD_REVISION, alembic_config
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


def test_the_head_revision_constant_is_the_migration_scripts_head() -> None:
    # Opening compares the database with HEAD_REVISION and imports Alembic only when they differ: a
    # new migration script that does not move the constant would never be run on a migrated database.
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [HEAD_REVISION]
    assert HEAD_REVISION in {revision.revision for revision in script.walk_revisions()}


def _open_in_a_new_process(url: str, tmp_path: Path) -> frozenset[str]:
    """The packages a fresh interpreter imports to open the store at ``url`` (which must succeed)."""
    code = "import sys\nfrom thresher.store import open_store\nopen_store(sys.argv[1]).close()\n"
    ran = run_and_list_imports(["-c", code, url], tmp_path)
    assert ran.code == 0, ran.err
    return ran.packages


def test_opening_a_database_at_head_does_not_import_alembic(backend: Backend, tmp_path: Path) -> None:
    assert "alembic" in _open_in_a_new_process(backend.url, tmp_path)  # a new database: migrated
    assert _revisions(backend.url) == [HEAD_REVISION]
    assert "alembic" not in _open_in_a_new_process(backend.url, tmp_path)  # at head: one plain read
    assert _revisions(backend.url) == [HEAD_REVISION]


def test_a_database_at_an_older_revision_is_migrated_to_head(backend: Backend, tmp_path: Path) -> None:
    if backend.name == "sqlite":  # opening the store makes the file's folder; a plain engine does not
        Path(backend.url.removeprefix("sqlite:///")).parent.mkdir(parents=True)
    engine = create_engine(backend.url)
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")  # the registry only: no jobs table yet
    finally:
        engine.dispose()
    assert _revisions(backend.url) == ["0001"]
    assert "alembic" in _open_in_a_new_process(backend.url, tmp_path)
    assert _revisions(backend.url) == [HEAD_REVISION]
    with open_store(backend.url) as store:
        assert store.list_jobs(limit=None) == []


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
