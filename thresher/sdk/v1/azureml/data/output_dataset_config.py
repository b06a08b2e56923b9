"""``azureml.data.OutputFileDatasetConfig``: a folder a step writes, that later steps read::

    prepared = OutputFileDatasetConfig(destination=(datastore, "prepared/{run-id}"))
    prepared.register_on_complete(name="prepared_data")     # a data asset once the step completes
    prep = PythonScriptStep(..., arguments=["--out", prepared])                 # prep writes it
    train = PythonScriptStep(..., arguments=["--data", prepared.as_input()])    # train reads it

``destination`` is a ``(datastore, path)`` tuple, where ``{run-id}`` becomes the step job's name and
``{output-name}`` the output's; a datastore alone means ``dataset/{run-id}/{output-name}`` in it; none
means the step job's own folder (``outputs/<name>``).
"""

from __future__ import annotations

from typing import Any

from .dataset_consumption_config import DatasetConsumptionConfig

__all__ = ["OutputDatasetConfig", "OutputFileDatasetConfig", "OutputTabularDatasetConfig"]

DEFAULT_PATH = "dataset/{run-id}/{output-name}"


class OutputDatasetConfig:
    """An output of a step: its name (None: thresher names it ``output_<n>``) and how it is registered."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self._registration: tuple[str, str | None, dict[str, str]] | None = None

    @property
    def _output(self) -> OutputFileDatasetConfig:
        raise NotImplementedError

    def register_on_complete(
        self, name: str, description: str | None = None, tags: dict[str, str] | None = None
    ) -> OutputDatasetConfig:
        """Register the output as data asset ``name`` (a new version per new content) when its step completes."""
        self._output._registration = (name, description, dict(tags or {}))
        return self


class OutputFileDatasetConfig(OutputDatasetConfig):
    """A folder a step writes (``mount``: in place; ``upload``: copied to ``destination`` afterwards)."""

    def __init__(
        self,
        name: str | None = None,
        destination: Any = None,
        source: str | None = None,
        partition_format: str | None = None,
    ) -> None:
        super().__init__(name)
        if isinstance(destination, tuple):
            if len(destination) != 2:
                raise ValueError(f"destination is {destination!r}; give (datastore, 'path/{{run-id}}').")
            self.destination: tuple[Any, str] | None = (destination[0], str(destination[1]))
        elif destination is not None:
            self.destination = (destination, DEFAULT_PATH)  # a datastore alone
        else:
            self.destination = None
        self.source = source
        self.mode = "mount"
        self._producers: list = []  # type: ignore[type-arg]  # the steps that write it (set by the steps)

    @property
    def _output(self) -> OutputFileDatasetConfig:
        return self

    def as_mount(self, disable_metadata_cache: bool = False) -> OutputFileDatasetConfig:
        """The step writes the destination in place."""
        self.mode = "mount"
        return self

    def as_upload(self, overwrite: bool = False, source_globs: Any = None) -> OutputFileDatasetConfig:
        """The step writes a local folder, copied to the destination when it succeeds."""
        self.mode = "upload"
        return self

    def as_input(self, name: str | None = None) -> DatasetConsumptionConfig:
        """This output as an input of a later step (named like the output unless ``name`` is given)."""
        return DatasetConsumptionConfig(name, self, "mount")

    def read_delimited_files(
        self,
        include_path: bool = False,
        separator: str = ",",
        header: Any = True,
        partition_format: str | None = None,
        path_glob: str | None = None,
        set_column_types: Any = None,
    ) -> OutputTabularDatasetConfig:
        """The same output, read by later steps as a table of delimited files."""
        options = {"separator": separator, "header": bool(header), "include_path": include_path}
        return OutputTabularDatasetConfig(self, options)

    def read_parquet_files(
        self,
        include_path: bool = False,
        partition_format: str | None = None,
        path_glob: str | None = None,
        set_column_types: Any = None,
    ) -> OutputTabularDatasetConfig:
        """The same output, read by later steps as a table of Parquet files."""
        return OutputTabularDatasetConfig(self, {"include_path": include_path})

    def __repr__(self) -> str:
        return f"OutputFileDatasetConfig(name={self.name!r})"


class OutputTabularDatasetConfig(OutputDatasetConfig):
    """An output that later steps read as a table: the same folder, with read options."""

    def __init__(self, output: OutputFileDatasetConfig, options: dict[str, Any]) -> None:
        super().__init__(output.name)
        self._file_output = output
        self._options = dict(options)

    @property
    def _output(self) -> OutputFileDatasetConfig:
        return self._file_output

    def as_input(self, name: str | None = None) -> DatasetConsumptionConfig:
        """This output as a tabular input of a later step."""
        return DatasetConsumptionConfig(name, self, "direct")

    def as_mount(self) -> OutputTabularDatasetConfig:
        """The step writes the destination in place."""
        self._file_output.as_mount()
        return self
