"""Fetching a remote input's mini-batches into a local cache just ahead of the workers that score them.

The local executor's workers run on the runner's machine and read local paths (the scoring contract:
``run()`` gets file paths, as Azure's mounts give). The loop asks the ``Prefetcher`` for every
mini-batch it takes from the plan; a few threads download them (each mini-batch's files at once: the
storage backends are asynchronous) while the workers score earlier ones, and a mini-batch is given
to a worker only when its files are here. The cache holds only the queued and running mini-batches
(the loop's queue is bounded): each one's files are deleted when it finishes.

An outage longer than the limit (``StorageUnavailableError``) is raised from ``ready`` and ends the
job, resumable; an object that vanished since planning is passed on as its URL, and the worker fails
that item saying so.
"""

from __future__ import annotations

import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from thresher.storage.remote import RemoteURL
from thresher.storage.remote_files import fetch_items, fetched_names
from thresher.storage.retry import OUTAGE_LIMIT


class Prefetcher:
    """Downloads mini-batches of ``root`` into ``cache/<index>/`` on ``threads`` threads."""

    def __init__(self, root: RemoteURL, cache: Path, *, threads: int = 4, outage_limit: float = OUTAGE_LIMIT) -> None:
        self._root = root
        self._limit = outage_limit
        self._cache = cache
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="thresher-fetch")
        self._fetches: dict[int, Future[list[Any]]] = {}
        self._names: dict[int, dict[str, str]] = {}  # index -> local path -> URL, for failure reports

    def want(self, index: int, items: list[Any]) -> None:
        """Start fetching mini-batch ``index``."""
        if index not in self._fetches:
            self._fetches[index] = self._pool.submit(
                fetch_items, self._root, items, self._cache / str(index), outage_limit=self._limit
            )

    def ready(self, index: int, items: list[Any]) -> list[Any] | None:
        """The mini-batch's local items once fetched, else None; raises what the fetch raised."""
        fetch = self._fetches.get(index)
        if fetch is None:
            self.want(index, items)
            return None
        if not fetch.done():
            return None
        local = fetch.result()
        if index not in self._names:
            self._names[index] = fetched_names(local, items)
        return local

    def shown(self, index: int, item: str) -> str:
        """The URL a worker's local path stands for (failure reports name the object, not the cache)."""
        return self._names.get(index, {}).get(item, item)

    def release(self, index: int) -> None:
        """The mini-batch finished: forget it and delete its files."""
        fetch = self._fetches.pop(index, None)
        self._names.pop(index, None)
        if fetch is not None and not fetch.done():
            fetch.cancel()
        shutil.rmtree(self._cache / str(index), ignore_errors=True)

    def close(self) -> None:
        """Stop fetching and delete the cache."""
        for fetch in self._fetches.values():
            fetch.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._fetches.clear()
        shutil.rmtree(self._cache, ignore_errors=True)
