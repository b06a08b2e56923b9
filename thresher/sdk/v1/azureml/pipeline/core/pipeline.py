"""``azureml.pipeline.core.Pipeline``: steps wired by their data, submitted as one thresher pipeline job::

    pipeline = Pipeline(workspace=ws, steps=[data_prep_step, train_step])
    assert pipeline.validate() == []
    run = Experiment(ws, "diabetes").submit(pipeline, pipeline_parameters={"round_to": 2})

``steps`` may nest lists (``[[prep, train]]``); a step whose output another step reads is added when
it is not listed (``resolve_closure``). Nothing is uploaded before ``submit``: then the steps' source
folders are snapshotted and every problem of the pipeline is reported at once, before anything runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .step import PipelineStep

if TYPE_CHECKING:
    from ...core.workspace import Workspace
    from .published_pipeline import PublishedPipeline
    from .run import PipelineRun

__all__ = ["Pipeline"]


def _flatten(steps: Any) -> list[PipelineStep]:
    found: list[PipelineStep] = []
    for item in steps if isinstance(steps, (list, tuple)) else [steps]:
        if isinstance(item, (list, tuple)):
            found.extend(_flatten(item))
        elif isinstance(item, PipelineStep):
            found.append(item)
        else:
            raise TypeError(f"Pipeline steps must be steps (PythonScriptStep, ParallelRunStep), not {item!r}.")
    return found


class Pipeline:
    """A pipeline of steps in a workspace."""

    def __init__(
        self,
        workspace: Workspace,
        steps: Any,
        description: str | None = None,
        default_datastore: Any = None,
        default_source_directory: str | None = None,
        resolve_closure: bool = True,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
        **kwargs: Any,
    ) -> None:
        self._workspace = workspace
        self._steps = _flatten(steps)
        if not self._steps:
            raise ValueError("A Pipeline needs at least one step.")
        self.description = description
        self.default_datastore = default_datastore
        self.default_source_directory = default_source_directory
        self.resolve_closure = resolve_closure
        self.continue_on_step_failure = bool(kwargs.get("continue_on_step_failure", False))

    @property
    def steps(self) -> list[PipelineStep]:
        """The steps as given (nested lists flattened)."""
        return list(self._steps)

    def validate(self) -> list[str]:
        """Every problem of the pipeline (unknown steps' outputs, missing scripts or data, unresolvable
        environments, cycles), in words; empty when it can be submitted. Nothing is uploaded."""
        from ..._thresher.translate import translate

        return translate(self, "validate", {}, snapshot=False).problems

    def submit(
        self,
        experiment_name: str,
        pipeline_parameters: dict[str, Any] | None = None,
        continue_on_step_failure: bool | None = None,
        regenerate_outputs: bool = False,
        parent_run_id: str | None = None,
        credential_passthrough: Any = None,
        **kwargs: Any,
    ) -> PipelineRun:
        """Snapshot the steps' folders and queue the pipeline as a thresher pipeline job (every problem is
        reported at once, as a ``UserErrorException``, and nothing runs); returns the run."""
        from ..._thresher.submit import submit

        continue_on_failure = (
            self.continue_on_step_failure if continue_on_step_failure is None else continue_on_step_failure
        )
        return submit(
            self,
            experiment_name,
            dict(pipeline_parameters or {}),
            continue_on_step_failure=bool(continue_on_failure),
            regenerate_outputs=regenerate_outputs,
            tags=kwargs.get("tags"),
        )

    def publish(
        self,
        name: str | None = None,
        description: str | None = None,
        version: str | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> PublishedPipeline:
        """Snapshot the steps' folders and store the pipeline as a published pipeline named ``name`` (a new
        version when the name has one already; the first version is the default of the pipeline endpoint of
        that name). It keeps running the code as it is now; submit it with ``.submit`` or its REST endpoint."""
        from ..._thresher.publish import publish
        from .published_pipeline import PublishedPipeline

        if not name:
            raise ValueError("Pipeline.publish needs a name.")
        record = publish(self, name, description, version, continue_on_step_failure)
        return PublishedPipeline(self._workspace, record)
