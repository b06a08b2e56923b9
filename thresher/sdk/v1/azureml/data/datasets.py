"""``azureml.data.FileDataset`` and ``TabularDataset``: a pointer to files (a folder or one file) in a
datastore, at a URL or on this machine; registered, a versioned thresher data asset.

A v1 dataset names its data by location; a step that uses it is reused while the location is the same
and what it holds has not changed (thresher fingerprints local folders; Azure compares definitions only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .dataset_consumption_config import DatasetConsumptionConfig
from .dataset_path import DatasetPath

if TYPE_CHECKING:
    from ..core.workspace import Workspace

__all__ = ["FileDataset", "TabularDataset"]


class AbstractDataset:
    """What file and tabular datasets share: where the data is, and how it is registered."""

    _kind = "file"

    def __init__(
        self,
        location: str,
        options: dict[str, Any] | None = None,
        *,
        workspace: Workspace | None = None,
        name: str | None = None,
        version: str | None = None,
        stored_path: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        self._location = location  # azureml://datastores/<ds>/paths/<p>, a URL, or an absolute local path
        self._options = dict(options or {})
        self._workspace = workspace
        self.name = name
        self.version = version
        self._stored_path = stored_path  # a registered dataset's stored copy
        self.description = description
        self.tags = dict(tags or {})

    @property
    def id(self) -> str:
        """``name:version`` once registered, else the location."""
        return f"{self.name}:{self.version}" if self.name else self._location

    def as_named_input(self, name: str) -> DatasetConsumptionConfig:
        """This dataset as the step input ``name`` (``Run.input_datasets[name]`` in the step)."""
        return DatasetConsumptionConfig(name, self)

    def register(
        self,
        workspace: Workspace,
        name: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        create_new_version: bool = False,
    ) -> Any:
        """Register as data asset ``name``: the same location holding the same files returns the latest
        version; other content under that name needs ``create_new_version=True``."""
        from .._thresher.datasets import register

        return register(workspace, self, name, description, tags, create_new_version)

    def _local(self) -> DatasetPath:
        from .._thresher.datasets import local_path

        return DatasetPath(local_path(self), self._kind, self._options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r})"


class FileDataset(AbstractDataset):
    """Files: a step gets the folder (or file) path."""

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        """An unnamed input read in place (it gets a stable name: the registered name, or input_<n>)."""
        return DatasetConsumptionConfig(None, self, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        """An unnamed input copied to the step first."""
        return DatasetConsumptionConfig(None, self, "download", path_on_compute)

    def to_path(self) -> list[str]:
        """The files, relative to the dataset's folder."""
        return self._local().to_path()

    def download(self, target_path: str | None = None, overwrite: bool = False, **kwargs: Any) -> list[str]:
        """The files' local paths (copied under ``target_path`` when given)."""
        return self._local().download(target_path, overwrite)


class TabularDataset(AbstractDataset):
    """Delimited or Parquet files read as one table; a step gets the path, whose ``to_pandas_dataframe()``
    reads it with the options given here."""

    _kind = "tabular"

    def to_pandas_dataframe(self, on_error: str = "null", out_of_range_datetime: str = "null") -> Any:
        """All rows, as one pandas DataFrame."""
        return self._local().to_pandas_dataframe()
