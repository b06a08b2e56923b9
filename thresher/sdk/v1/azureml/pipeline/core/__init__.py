"""``azureml.pipeline.core``: pipelines, their parameters and data, and their runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import exports

if TYPE_CHECKING:
    from .graph import PipelineData, PipelineParameter
    from .pipeline import Pipeline
    from .pipeline_endpoint import PipelineEndpoint
    from .published_pipeline import PublishedPipeline
    from .run import PipelineRun, StepRun
    from .schedule import Schedule, ScheduleRecurrence, TimeZone
    from .step import PipelineStep

__all__ = [
    "Pipeline",
    "PipelineData",
    "PipelineEndpoint",
    "PipelineParameter",
    "PipelineRun",
    "PipelineStep",
    "PublishedPipeline",
    "Schedule",
    "ScheduleRecurrence",
    "StepRun",
    "TimeZone",
]

__getattr__ = exports(
    __name__,
    {
        "Pipeline": ".pipeline",
        "PipelineEndpoint": ".pipeline_endpoint",
        "PublishedPipeline": ".published_pipeline",
        "PipelineData": ".graph",
        "PipelineParameter": ".graph",
        "PipelineRun": ".run",
        "StepRun": ".run",
        "Schedule": ".schedule",
        "ScheduleRecurrence": ".schedule",
        "TimeZone": ".schedule",
        "PipelineStep": ".step",
    },
    {
        "TrainingOutput": "Use OutputFileDatasetConfig.",
        "OutputPortBinding": "Use OutputFileDatasetConfig.",
        "InputPortBinding": "Use DatasetConsumptionConfig (dataset.as_named_input(name)).",
        "StepSequence": "List the steps in order and wire them by their outputs and inputs.",
    },
)
