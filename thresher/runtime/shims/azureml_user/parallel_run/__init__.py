"""``from azureml_user.parallel_run import EntryScript``, as on Azure ML compute.

``EntryScript()`` is a singleton describing the current worker::

    entry_script = EntryScript()
    entry_script.logger.info("scoring %d files", len(mini_batch))   # -> entry_script_log file
    entry_script.agent_name      # "process000"
    entry_script.node_id         # "node-0"
    entry_script.log_dir         # <logs>/user/entry_script_log/node-0
    entry_script.output_dir      # the job's output folder (AZUREML_BI_OUTPUT_PATH)

Inside a thresher worker the logger writes to ``logs/user/entry_script_log/<node>/<process>.log.txt``
(the worker attaches that file to it). Outside one, it falls back to local defaults and the logger
propagates to the root logger, like the samples' ``DummyEntryScript``.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

__all__ = ["EntryScript"]

# The same name as thresher.runtime.protocol.ENTRY_SCRIPT_LOGGER (shims never import thresher).
_LOGGER_NAME = "azureml_user.parallel_run.entry_script"


def _worker_config() -> dict[str, Any]:
    try:
        config = json.loads(os.environ.get("THRESHER_WORKER", "{}"))
    except ValueError:
        return {}
    return config if isinstance(config, dict) else {}


class EntryScript:
    """The running worker as Azure's ``EntryScript`` shows it: logger, folders and names."""

    _instance: EntryScript | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> EntryScript:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    @property
    def _config(self) -> dict[str, Any]:
        return _worker_config()

    @property
    def logger(self) -> logging.Logger:
        """The entry script logger (its own file per worker)."""
        return logging.getLogger(_LOGGER_NAME)

    @property
    def node_id(self) -> str:
        """The node this worker runs on, e.g. ``node-0``."""
        return str(self._config.get("node", "node-0"))

    @property
    def agent_name(self) -> str:
        """The worker's process name, e.g. ``process000``."""
        return str(self._config.get("process", "process000"))

    @property
    def log_dir(self) -> str:
        """``<logs>/user/entry_script_log/<node>``: the folder of this node's entry script logs."""
        logs = str(self._config.get("logs_dir") or os.path.abspath("logs"))
        return os.path.join(logs, "user", "entry_script_log", self.node_id)

    @property
    def output_dir(self) -> str:
        """The job's output folder, where scripts write their own files (``summary_only``)."""
        return str(self._config.get("output_dir") or os.environ.get("AZUREML_BI_OUTPUT_PATH") or os.getcwd())

    @property
    def working_dir(self) -> str:
        """The worker's working folder (the code snapshot)."""
        return os.getcwd()
