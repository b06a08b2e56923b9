"""``SqlStore``: the metadata store on SQLite or PostgreSQL, through SQLAlchemy Core.

It is made of one class per group of tables, each holding the ``MetadataStore`` methods on them:
``AssetRows`` (assets.py), ``NamedRows`` (resources.py), ``OnlineRows`` (online.py), ``RevisionRows``
(revisions.py), ``JobRows`` (jobs.py) and ``ServiceRows`` (service.py), on a shared ``Database``
(engine.py). Every method is one transaction (``create_job`` may share its transaction with other
threads' jobs: ``group_commit.py``). Writes that race another process (two "next version" inserts, a
create against a create, a deployment against its endpoint's deletion) are settled by the database's
constraints: the loser gets an IntegrityError, and the method runs again, this time seeing the winner's
row, which either gives the next number or the error a user should see.
"""

from __future__ import annotations

import json
from types import TracebackType

from sqlalchemy.exc import DBAPIError

from thresher.store.assets import AssetRows
from thresher.store.base import MetadataStore
from thresher.store.engine import parse_url, store_error
from thresher.store.jobs import JobRows
from thresher.store.migrate import upgrade_to_head
from thresher.store.online import OnlineRows
from thresher.store.resources import NamedRows
from thresher.store.revisions import RevisionRows
from thresher.store.service import ServiceRows


class SqlStore(AssetRows, OnlineRows, NamedRows, RevisionRows, JobRows, ServiceRows, MetadataStore):
    """The metadata store on SQLite or PostgreSQL; each method's documentation is in ``MetadataStore``.

    Opening it creates a SQLite file's folder and migrates the database to the current schema.
    """

    def __init__(self, url: str) -> None:
        super().__init__(parse_url(url))
        try:
            upgrade_to_head(self._engine, self._url)
        except (DBAPIError, json.JSONDecodeError) as exc:
            # opening is the first read: a damaged file or an unreachable server shows up here
            self._engine.dispose()
            raise store_error(self._url, exc) from exc
        except BaseException:
            self._engine.dispose()
            raise

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlStore({self.url!r})"


def open_store(url: str) -> SqlStore:
    """Open (and migrate) the metadata store at a SQLAlchemy URL, e.g. ``Settings.resolved_database_url``."""
    return SqlStore(url)
