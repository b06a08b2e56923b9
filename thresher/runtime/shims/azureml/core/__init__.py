"""``azureml.core`` for scoring scripts: ``Model`` and an offline ``Run``.

``Run.get_context()`` returns an offline run whose metric and tag calls work and write nothing remote:
each call is written to the entry script log and kept in memory (``get_metrics``, ``get_tags``)::

    run = Run.get_context()
    run.log("accuracy", 0.93)             # entry_script_log: "metric accuracy = 0.93"
"""

from __future__ import annotations

import logging
from typing import Any

from .model import Model

__all__ = ["Model", "Run"]

_LOGGER_NAME = "azureml_user.parallel_run.entry_script"  # the entry script log (see azureml_user)


class Run:
    """An offline run: metrics and tags go to the entry script log, never to a service."""

    _context: Run | None = None

    def __init__(self) -> None:
        self.id = "OfflineRun"
        self._metrics: dict[str, Any] = {}
        self._tags: dict[str, Any] = {}
        self._logger = logging.getLogger(_LOGGER_NAME)

    @classmethod
    def get_context(cls, allow_offline: bool = True, **kwargs: Any) -> Run:
        """The current run: one offline run per worker process."""
        if cls._context is None:
            cls._context = cls()
        return cls._context

    def _metric(self, name: str, value: Any, listed: bool = False) -> None:
        if listed:
            self._metrics.setdefault(name, []).append(value)
        else:
            self._metrics[name] = value
        self._logger.info("metric %s = %r", name, value)

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Record a single value metric."""
        self._metric(name, value)

    def log_list(self, name: str, value: list[Any], description: str = "") -> None:
        """Record a list metric."""
        self._metric(name, list(value))

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Record one row of a table metric."""
        self._metric(name, dict(kwargs), listed=True)

    def log_table(self, name: str, value: dict[str, Any], description: str = "") -> None:
        """Record a table metric (a dict of columns)."""
        self._metric(name, dict(value))

    def tag(self, key: str, value: Any = None) -> None:
        """Set one tag."""
        self._tags[key] = value
        self._logger.info("tag %s = %r", key, value)

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Set several tags."""
        for key, value in tags.items():
            self.tag(key, value)

    def get_tags(self) -> dict[str, Any]:
        """The tags set so far in this worker."""
        return dict(self._tags)

    def get_metrics(self, name: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """The metrics logged so far in this worker (all, or the one named)."""
        if name is not None:
            return {name: self._metrics[name]} if name in self._metrics else {}
        return dict(self._metrics)

    def complete(self) -> None:
        """Nothing to finish offline."""
