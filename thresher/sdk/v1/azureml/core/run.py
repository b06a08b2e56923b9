"""``azureml.core.Run``: the run a script is part of, as ``Run.get_context()`` returns it.

Inside a thresher pipeline step (``THRESHER_STEP_DIR`` is set) metrics go to the step folder's
``metrics.jsonl``, which the runner records in the step job's results when the step ends; the inputs
the step was given are in ``input_datasets``. Anywhere else the run is offline and prints what it is
given, as Azure's offline run does::

    run = Run.get_context()
    run.log("rows", 442)                       # step job results: {"metrics": {"rows": 442}}
    path = run.input_datasets["raw"]           # the local folder of the named input "raw"

Standard library only, Python 3.8: steps run in their environments' interpreters.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from ..data.dataset_path import DatasetPath

__all__ = ["Run"]

METRICS_FILE = "metrics.jsonl"  # thresher.pipelines.tracking reads it
STEP_DIR = "THRESHER_STEP_DIR"
DATASETS = "THRESHER_V1_DATASETS"  # {name: {"role": "input"|"output", "kind": "file"|"tabular", "options": {}}}
DATA_REFERENCE = "AZUREML_DATAREFERENCE_"  # + name: the local path of that input or output


class _Experiment:
    """The experiment of a run inside a step: its name, and the workspace (opened on use)."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def workspace(self) -> Any:
        from .workspace import Workspace

        return Workspace.from_config()


class Run:
    """The current run: a thresher step job inside a pipeline step, an offline run elsewhere."""

    _context: Run | None = None

    def __init__(
        self, run_id: str, folder: str | None, experiment: str, parent: Run | None = None, _is_parent: bool = False
    ) -> None:
        self.id = run_id
        self.name = run_id
        self.display_name = run_id
        self.parent = parent
        self.experiment = _Experiment(experiment)
        self._folder = folder
        self._tags: dict[str, Any] = {}
        self._properties: dict[str, Any] = {}
        self._offline_metrics: dict[str, Any] = {}
        self._parent_of_step = _is_parent  # the pipeline run, as a step sees it: its metrics are marked "parent"

    @classmethod
    def get_context(cls, allow_offline: bool = True, used_for_context_manager: bool = False, **kwargs: Any) -> Run:
        """The run of this process: the step's, or an offline one outside a pipeline step."""
        if cls._context is None:
            folder = os.environ.get(STEP_DIR)
            if folder:
                experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME", "Default")
                root = os.environ.get("AZUREML_ROOT_RUN_ID", "")
                parent = Run(root, folder, experiment, _is_parent=True)
                cls._context = Run(os.environ.get("AZUREML_RUN_ID", ""), folder, experiment, parent)
            elif not allow_offline:
                raise RuntimeError(
                    "Run.get_context(allow_offline=False): this script is not running in a pipeline step. "
                    "Run it as a step (thresher run driver.py), or allow an offline run."
                )
            else:
                cls._context = Run("OfflineRun_" + str(uuid.uuid4()), None, "Default")
        return cls._context

    @property
    def input_datasets(self) -> dict[str, DatasetPath]:
        """The step's named data inputs: name -> local path (a ``str`` that also reads like a dataset)."""
        return self._datasets("input")

    @property
    def output_datasets(self) -> dict[str, DatasetPath]:
        """The step's data outputs: name -> the local folder to write."""
        return self._datasets("output")

    def _datasets(self, role: str) -> dict[str, DatasetPath]:
        if self._folder is None:
            return {}
        found: dict[str, DatasetPath] = {}
        declared = json.loads(os.environ.get(DATASETS) or "{}")
        for name, meta in declared.items():
            path = os.environ.get(DATA_REFERENCE + name)
            if meta.get("role") == role and path is not None:
                found[name] = DatasetPath(path, meta.get("kind", "file"), meta.get("options") or {})
        return found

    # -- metrics ------------------------------------------------------------------------------

    def _write(self, name: str, kind: str, value: Any) -> None:
        if self._folder is None:
            print(f"Attempted to log {kind} metric {name}:\n{value}")
            if kind in ("list", "row"):
                self._offline_metrics.setdefault(name, []).append(value)
            else:
                self._offline_metrics[name] = value
            return
        entry: dict[str, Any] = {"name": name, "kind": kind, "value": value}
        if self._parent_of_step:
            entry["parent"] = True
        with open(os.path.join(self._folder, METRICS_FILE), "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, default=str) + "\n")

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Log a value (logged again: a series)."""
        self._write(name, "scalar", value)

    def log_list(self, name: str, value: list[Any], description: str = "") -> None:
        """Log a list of values."""
        self._write(name, "list", list(value))

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Log one row of a table."""
        self._write(name, "row", dict(kwargs))

    def log_table(self, name: str, value: dict[str, Any], description: str = "") -> None:
        """Log a table: a dict of columns."""
        self._write(name, "table", dict(value))

    def get_metrics(self, name: str | None = None, recursive: bool = False, **kwargs: Any) -> dict[str, Any]:
        """The metrics logged so far (a value logged more than once is the list of its values)."""
        metrics = self._offline_metrics if self._folder is None else self._read()
        if name is not None:
            return {name: metrics[name]} if name in metrics else {}
        return dict(metrics)

    def _read(self) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        counts: dict[str, int] = {}
        path = os.path.join(str(self._folder), METRICS_FILE)
        if not os.path.isfile(path):
            return metrics
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if bool(entry.get("parent")) != self._parent_of_step:
                    continue
                name, kind, value = entry.get("name"), entry.get("kind"), entry.get("value")
                if kind == "scalar":
                    counts[name] = counts.get(name, 0) + 1
                    if counts[name] == 1:
                        metrics[name] = value
                    elif counts[name] == 2:
                        metrics[name] = [metrics[name], value]
                    else:
                        metrics[name].append(value)
                elif kind == "list":
                    metrics.setdefault(name, []).extend(value)
                elif kind == "row":
                    metrics.setdefault(name, []).append(value)
                else:
                    metrics[name] = value
        return metrics

    # -- tags, properties, status -------------------------------------------------------------

    def tag(self, key: str, value: Any = None) -> None:
        """Set one tag."""
        self._tags[key] = value

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Set several tags."""
        self._tags.update(tags)

    def get_tags(self) -> dict[str, Any]:
        """The tags set in this process."""
        return dict(self._tags)

    def add_properties(self, properties: dict[str, Any]) -> None:
        """Add properties."""
        self._properties.update(properties)

    def get_properties(self) -> dict[str, Any]:
        """The properties added in this process."""
        return dict(self._properties)

    def get_status(self) -> str:
        """``Running``: a run that asks is running."""
        return "Running"

    def complete(self, _set_status: bool = True) -> None:
        """Nothing to do: the step ends when its process does."""

    def fail(self, error_details: Any = None, error_code: Any = None, _set_status: bool = True) -> None:
        """Nothing to do: the step fails when its process exits with an error."""

    def flush(self, timeout_seconds: int = 300) -> None:
        """Nothing to do: metrics are written as they are logged."""

    def __repr__(self) -> str:
        return f"Run(Experiment: {self.experiment.name}, Id: {self.id})"
