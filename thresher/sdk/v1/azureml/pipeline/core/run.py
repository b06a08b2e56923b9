"""``azureml.pipeline.core.PipelineRun`` and ``StepRun``: a submitted pipeline job and its step jobs::

    run = experiment.submit(pipeline)
    run.wait_for_completion(show_output=True)       # raises ActivityFailedException when it failed
    for step in run.get_children():
        print(step.name, step.get_status(), step.get_metrics())

Statuses read as the v1 SDK's: ``Finished`` (thresher's Completed), ``Failed``, ``Canceled``, ``Running``.
"""

from __future__ import annotations

import shutil
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thresher.store import JobRecord

    from ...core.workspace import Workspace

__all__ = ["PipelineRun", "PortDataReference", "StepRun"]


def _job(name: str) -> JobRecord:
    from ..._thresher.workspace import thresher_workspace

    return thresher_workspace().jobs.get(name)


class _Experiment:
    def __init__(self, workspace: Workspace, name: str) -> None:
        self.workspace, self.name = workspace, name


class PortDataReference:
    """Where a step output is: ``path_on_datastore`` (a local path or URI), ``download`` copies it."""

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self.path_on_datastore = path
        self.datastore_name = "workspaceblobstore"

    def download(self, local_path: str, overwrite: bool | None = None, show_progress: bool = True) -> str:
        """Copy the output folder under ``local_path``; returns the copy's path."""
        import os

        target = os.path.join(local_path, self.name)
        shutil.copytree(self.path_on_datastore, target, dirs_exist_ok=bool(overwrite))
        return target


class StepRun:
    """One step job of a pipeline job."""

    def __init__(self, workspace: Workspace, experiment: str, job_name: str) -> None:
        self.id = job_name
        self.experiment = _Experiment(workspace, experiment)
        self._workspace = workspace

    @property
    def name(self) -> str:
        """The step's name in the pipeline."""
        return str((_job(self.id).results or {}).get("step") or self.id)

    def get_status(self) -> str:
        """``Finished``, ``Failed``, ``Canceled``, ``Running``, ``Queued``."""
        from ..._thresher.monitor import v1_status

        return v1_status(_job(self.id))

    def get_metrics(self, name: str | None = None, recursive: bool = False, **kwargs: Any) -> dict[str, Any]:
        """What the step logged with ``Run.get_context().log...`` (and MLflow)."""
        metrics = dict((_job(self.id).results or {}).get("metrics") or {})
        return {name: metrics[name]} if name is not None and name in metrics else {} if name else metrics

    def get_details(self) -> dict[str, Any]:
        """Status, times and reuse (``properties['azureml.isreused']``)."""
        from ..._thresher.monitor import details

        return details(_job(self.id))

    @property
    def properties(self) -> dict[str, Any]:
        """The run's properties (reuse: ``azureml.isreused``, ``azureml.reusedrunid``)."""
        found: dict[str, Any] = self.get_details()["properties"]
        return found

    def get_output_data(self, name: str) -> PortDataReference:
        """Where output ``name`` of the step is."""
        outputs = (_job(self.id).results or {}).get("outputs") or {}
        if name not in outputs:
            raise KeyError("step {} has no output {!r} (its outputs: {})".format(self.name, name, ", ".join(outputs)))
        return PortDataReference(name, str(outputs[name]["path"]))

    def wait_for_completion(self, show_output: bool = True, timeout_seconds: float = sys.maxsize, **kwargs: Any) -> str:
        """Wait for the step's pipeline to end (steps end with it); the step's status."""
        job = _job(self.id)
        if job.parent:
            PipelineRun(self._workspace, self.experiment.name, job.parent).wait_for_completion(
                show_output=False, timeout_seconds=timeout_seconds, raise_on_error=False
            )
        return self.get_status()

    def __repr__(self) -> str:
        return f"StepRun(Experiment: {self.experiment.name}, Id: {self.id})"


class PipelineRun:
    """A submitted pipeline: a thresher pipeline job."""

    def __init__(self, workspace: Workspace, experiment: str, job_name: str) -> None:
        self.id = job_name
        self.experiment = _Experiment(workspace, experiment)
        self._workspace = workspace

    def wait_for_completion(
        self, show_output: bool = True, timeout_seconds: float = sys.maxsize, raise_on_error: bool = True
    ) -> str:
        """Wait for the pipeline to end (printing its steps as they go with ``show_output``) and return its
        status; ``ActivityFailedException`` with the failure's headline when it failed and ``raise_on_error``."""
        from ..._thresher.monitor import wait

        return wait(self, show_output=show_output, timeout_seconds=timeout_seconds, raise_on_error=raise_on_error)

    def get_status(self) -> str:
        """``Finished``, ``Failed``, ``Canceled``, ``Running``, ``Queued``."""
        from ..._thresher.monitor import v1_status

        return v1_status(_job(self.id))

    def get_children(
        self, recursive: bool = False, tags: Any = None, properties: Any = None, **kwargs: Any
    ) -> list[StepRun]:
        """The step runs (the latest attempt of each step), in the order they were created."""
        from ..._thresher.workspace import thresher_workspace

        latest: dict[str, str] = {}
        for job in thresher_workspace().jobs.list(parent_job_name=self.id, limit=None):
            latest[str((job.results or {}).get("step") or job.name)] = job.name
        return [StepRun(self._workspace, self.experiment.name, name) for name in latest.values()]

    def get_steps(self) -> list[StepRun]:
        """The step runs."""
        return self.get_children()

    def find_step_run(self, name: str) -> list[StepRun]:
        """The step runs of step ``name``."""
        return [step for step in self.get_children() if step.name == name]

    def get_metrics(self, name: str | None = None, recursive: bool = False, **kwargs: Any) -> dict[str, Any]:
        """With ``recursive``, each step run's metrics by its id; else what steps logged to ``run.parent``."""
        if recursive:
            return {step.id: step.get_metrics(name) for step in self.get_children()}
        from ..._thresher.tracking import parent_metrics

        metrics = parent_metrics(self.id)
        return {name: metrics[name]} if name is not None and name in metrics else {} if name else metrics

    def get_details(self) -> dict[str, Any]:
        """Status, times and the steps."""
        from ..._thresher.monitor import details

        return details(_job(self.id))

    def cancel(self) -> None:
        """Ask the pipeline to stop (running steps are stopped)."""
        from ..._thresher.workspace import thresher_workspace

        thresher_workspace().jobs.cancel(self.id)

    def publish_pipeline(self, name: str, description: str, version: str, continue_on_step_failure: Any = None) -> Any:
        """Not supported yet."""
        from ..._lazy import NotSupported

        raise NotSupported("PipelineRun.publish_pipeline is not supported by thresher yet; run the driver again.")

    def __repr__(self) -> str:
        return f"PipelineRun(Experiment: {self.experiment.name}, Id: {self.id})"
