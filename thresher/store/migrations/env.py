"""Alembic's entry point for thresher's metadata database.

thresher runs migrations itself (``thresher.store.migrate``), handing over an open connection in
``config.attributes["connection"]`` inside a transaction that already holds the migration lock. Run
by hand (``alembic -c <ini>``, to write a new revision), it connects to ``sqlalchemy.url`` instead.
New revisions: ``versions/NNNN_<what>.py`` with ``revision = "NNNN"``; SQLite alters tables in batch
mode (``render_as_batch``), so use ``op.batch_alter_table`` for changes to existing tables.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from thresher.store.schema import VERSION_TABLE, metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Print the SQL instead of running it (``alembic upgrade head --sql``)."""
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate over thresher's connection when given one, else over a fresh one."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("Set sqlalchemy.url in the Alembic config to migrate a database by hand.")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            _configure_and_run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
