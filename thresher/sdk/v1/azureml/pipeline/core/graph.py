"""``azureml.pipeline.core.PipelineParameter`` and ``PipelineData``.

A ``PipelineParameter`` is a pipeline input: where a step's arguments use it, the step gets its value
(the default, or what ``submit(pipeline_parameters=...)`` gives). ``PipelineData`` is the v1 SDK's
older step output: the producing step lists it in ``outputs``, the consuming step in ``inputs``::

    round_to = PipelineParameter(name="round_to", default_value=3)
    step = PythonScriptStep(..., arguments=["--round-to", round_to])
"""

from __future__ import annotations

from typing import Any

from ...data.dataset_consumption_config import DatasetConsumptionConfig
from ...data.output_dataset_config import OutputFileDatasetConfig

__all__ = ["PipelineData", "PipelineParameter"]


class PipelineParameter:
    """A named value given when the pipeline is submitted; ``default_value`` when it is not."""

    def __init__(self, name: str, default_value: Any) -> None:
        if isinstance(default_value, PipelineParameter):
            raise ValueError(f"default_value of PipelineParameter {name!r} is another PipelineParameter.")
        self.name = name
        self.default_value = default_value

    def __repr__(self) -> str:
        return f"PipelineParameter_Name:{self.name}_Default:{self.default_value}"


class PipelineData(OutputFileDatasetConfig):
    """A folder one step writes (``outputs=[data]``) and later steps read (``inputs=[data]``)."""

    def __init__(
        self,
        name: str,
        datastore: Any = None,
        output_name: str | None = None,
        output_mode: str = "mount",
        output_path_on_compute: str | None = None,
        output_overwrite: bool | None = None,
        data_type: str | None = None,
        is_directory: bool | None = None,
        pipeline_output_name: str | None = None,
        training_output: Any = None,
    ) -> None:
        super().__init__(output_name or name, (datastore, "azureml/{run-id}/{output-name}") if datastore else None)
        self.mode = "upload" if output_mode == "upload" else "mount"
        self.data_type = data_type or "AnyDirectory"

    def as_dataset(self) -> PipelineData:
        """The same data (v1 promotes it to a dataset; here it already is one)."""
        return self

    def as_input(self, input_name: str | None = None) -> DatasetConsumptionConfig:
        """This data as an input of a later step."""
        return DatasetConsumptionConfig(input_name, self, "mount")

    def as_download(
        self, input_name: str | None = None, path_on_compute: str | None = None, overwrite: bool | None = None
    ) -> DatasetConsumptionConfig:
        """This data as an input copied to the later step."""
        return DatasetConsumptionConfig(input_name, self, "download", path_on_compute)

    def as_mount(self, input_name: str | None = None) -> DatasetConsumptionConfig:  # type: ignore[override]
        """This data as an input read in place."""
        return DatasetConsumptionConfig(input_name, self, "mount")

    def __repr__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.name}"
