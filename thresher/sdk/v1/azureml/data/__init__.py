"""``azureml.data``: datasets, how steps consume them, and the outputs steps write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import exports

if TYPE_CHECKING:
    from .dataset_consumption_config import DatasetConsumptionConfig
    from .datasets import FileDataset, TabularDataset
    from .output_dataset_config import OutputFileDatasetConfig, OutputTabularDatasetConfig

__all__ = [
    "DatasetConsumptionConfig",
    "FileDataset",
    "OutputFileDatasetConfig",
    "OutputTabularDatasetConfig",
    "TabularDataset",
]

__getattr__ = exports(
    __name__,
    {
        "DatasetConsumptionConfig": ".dataset_consumption_config",
        "FileDataset": ".datasets",
        "TabularDataset": ".datasets",
        "OutputFileDatasetConfig": ".output_dataset_config",
        "OutputTabularDatasetConfig": ".output_dataset_config",
    },
    {
        "DataType": "Column types are inferred by pandas when a step reads the table.",
        "HDFSOutputDatasetConfig": "Use OutputFileDatasetConfig.",
        "LinkFileOutputDatasetConfig": "Use OutputFileDatasetConfig.",
        "LinkTabularOutputDatasetConfig": "Use OutputFileDatasetConfig(...).read_delimited_files().",
    },
)
