"""``azureml.pipeline.core``: pipelines, their parameters and data, and their runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import exports

if TYPE_CHECKING:
    from .graph import PipelineData, PipelineParameter
    from .pipeline import Pipeline
    from .run import PipelineRun, StepRun
    from .step import PipelineStep

__all__ = ["Pipeline", "PipelineData", "PipelineParameter", "PipelineRun", "PipelineStep", "StepRun"]

_PUBLISH = "Submit the pipeline again (Experiment.submit or thresher run); unchanged steps are reused."

__getattr__ = exports(
    __name__,
    {
        "Pipeline": ".pipeline",
        "PipelineData": ".graph",
        "PipelineParameter": ".graph",
        "PipelineRun": ".run",
        "StepRun": ".run",
        "PipelineStep": ".step",
    },
    {
        "PublishedPipeline": "Publishing is not available yet. " + _PUBLISH,
        "PipelineEndpoint": "Pipeline endpoints are not available yet. " + _PUBLISH,
        "Schedule": "Schedules are not available yet: run 'thresher run driver.py' from cron.",
        "ScheduleRecurrence": "Schedules are not available yet: run 'thresher run driver.py' from cron.",
        "TrainingOutput": "Use OutputFileDatasetConfig.",
        "OutputPortBinding": "Use OutputFileDatasetConfig.",
        "InputPortBinding": "Use DatasetConsumptionConfig (dataset.as_named_input(name)).",
        "StepSequence": "List the steps in order and wire them by their outputs and inputs.",
    },
)
