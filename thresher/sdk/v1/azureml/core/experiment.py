"""``azureml.core.Experiment``: a name that pipeline runs are grouped under; ``submit`` runs a pipeline::

run = Experiment(ws, "diabetes").submit(pipeline, pipeline_parameters={"round_to": 2})
run.wait_for_completion(show_output=True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from ..pipeline.core.run import PipelineRun
    from .workspace import Workspace

__all__ = ["Experiment"]


class Experiment:
    """An experiment of the workspace (thresher: the pipeline jobs' experiment name)."""

    def __init__(self, workspace: Workspace, name: str, _skip_name_validation: bool = False, **kwargs: Any) -> None:
        self.workspace = workspace
        self.name = name

    def submit(self, config: Any, tags: dict[str, str] | None = None, **kwargs: Any) -> PipelineRun:
        """Run ``config`` (a ``Pipeline``; keyword arguments: ``pipeline_parameters``,
        ``regenerate_outputs``, ``continue_on_step_failure``) and return its run."""
        from ..pipeline.core.pipeline import Pipeline

        if not isinstance(config, Pipeline):
            from .._lazy import NotSupported

            raise NotSupported(
                f"Experiment.submit({type(config).__name__}) is not supported by thresher: it runs Pipelines. "
                "Wrap the script in a PythonScriptStep and submit Pipeline(ws, [step])."
            )
        return config.submit(self.name, tags=tags, **kwargs)

    def get_runs(self, type: str | None = None, tags: Any = None, properties: Any = None) -> Iterator[PipelineRun]:
        """The experiment's pipeline runs, newest first."""
        from .._thresher.monitor import experiment_runs

        return iter(experiment_runs(self))

    def __repr__(self) -> str:
        return f"Experiment(Name: {self.name}, Workspace: {self.workspace.name})"
