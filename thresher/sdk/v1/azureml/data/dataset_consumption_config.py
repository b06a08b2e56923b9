"""``azureml.data.dataset_consumption_config.DatasetConsumptionConfig``: a data input of a step, named,
with how the step gets it (``mount``, ``download`` or ``direct``)::

    raw = dataset.as_named_input("raw").as_download()      # arguments=["--raw", raw]
    prepared = output_data1.as_input(name="prepared")       # another step's output
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["DatasetConsumptionConfig"]

MODES = ("direct", "mount", "download", "hdfs")


class DatasetConsumptionConfig:
    """A dataset (or another step's output) as an input of a step."""

    def __init__(
        self, name: str | None, dataset: Any, mode: str = "direct", path_on_compute: str | None = None
    ) -> None:
        if mode not in MODES:
            raise ValueError("mode is {!r}; it must be one of {}.".format(mode, ", ".join(MODES)))
        self.name = name
        self.dataset = dataset
        self.mode = mode
        self.path_on_compute = path_on_compute

    def _with(self, mode: str, path_on_compute: str | None) -> DatasetConsumptionConfig:
        made = copy.copy(self)
        made.mode = mode
        made.path_on_compute = path_on_compute
        return made

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        """The step reads the files in place (thresher: a local path; object storage is fetched first)."""
        return self._with("mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        """The files are copied to the step first (a local path)."""
        return self._with("download", path_on_compute)

    def as_direct(self) -> DatasetConsumptionConfig:
        """The step reads the dataset itself (``Run.input_datasets[name]``; thresher: the path)."""
        return self._with("direct", None)

    def __repr__(self) -> str:
        return f"DatasetConsumptionConfig(name={self.name!r}, mode={self.mode!r})"
