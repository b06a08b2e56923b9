"""``azureml.core.Dataset``: make datasets from paths, or get registered ones::

files = Dataset.File.from_files([(datastore, "raw/")])           # a folder in a datastore
table = Dataset.Tabular.from_delimited_files("./data/iris.csv")  # a local file
prepared = Dataset.get_by_name(ws, "prepared_output_data")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Union

from ..data.datasets import AbstractDataset, FileDataset, TabularDataset

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = ["Dataset", "FileDataset", "TabularDataset"]

Paths = Union[str, Any, List[Any]]
"""A path, a (datastore, path) tuple, or a list of one of them."""


def _location(path: Paths, what: str) -> str:
    items = path if isinstance(path, list) else [path]
    if len(items) != 1:
        from .._lazy import NotSupported

        raise NotSupported(
            f"{what} with {len(items)} paths is not supported by thresher: a dataset is one folder or one file. "
            "Put the files in one folder and give that folder."
        )
    item = items[0]
    if isinstance(item, tuple):
        datastore, relative = item
        return "azureml://datastores/{}/paths/{}".format(datastore.name, str(relative).lstrip("/"))
    text = str(item)
    if any(mark in text for mark in "*?["):
        from .._lazy import NotSupported

        raise NotSupported(
            f"{what}({text!r}): glob patterns are not supported by thresher; give the folder that holds the files."
        )
    if "://" in text:
        return text
    import os

    return os.path.abspath(text)


def _checked(dataset: AbstractDataset, validate: bool) -> Any:
    if validate:
        from .._thresher.datasets import local_path

        local_path(dataset)  # raises, naming the path, when nothing is there
    return dataset


class _FileFactory:
    """``Dataset.File``."""

    @staticmethod
    def from_files(
        path: Paths, validate: bool = True, partition_format: str | None = None, is_file: bool = False
    ) -> FileDataset:
        """Files: one folder (or file) in a datastore (``(datastore, "folder/")``), at a URL or here."""
        made = FileDataset(_location(path, "Dataset.File.from_files"))
        result: FileDataset = _checked(made, validate)
        return result


class _TabularFactory:
    """``Dataset.Tabular``."""

    @staticmethod
    def from_delimited_files(
        path: Paths,
        validate: bool = True,
        include_path: bool = False,
        infer_column_types: bool = True,
        set_column_types: Any = None,
        separator: str = ",",
        header: Any = True,
        partition_format: str | None = None,
        support_multi_line: bool = False,
        empty_as_string: bool = False,
        encoding: str = "utf8",
    ) -> TabularDataset:
        """Delimited files (CSV by default) read as one table."""
        options = {"separator": separator, "header": bool(header), "include_path": include_path, "encoding": encoding}
        made = TabularDataset(_location(path, "Dataset.Tabular.from_delimited_files"), options)
        result: TabularDataset = _checked(made, validate)
        return result

    @staticmethod
    def from_parquet_files(
        path: Paths,
        validate: bool = True,
        include_path: bool = False,
        set_column_types: Any = None,
        partition_format: str | None = None,
    ) -> TabularDataset:
        """Parquet files read as one table."""
        made = TabularDataset(_location(path, "Dataset.Tabular.from_parquet_files"), {"include_path": include_path})
        result: TabularDataset = _checked(made, validate)
        return result


class Dataset:
    """Datasets: ``Dataset.File`` and ``Dataset.Tabular`` make them; ``get_by_name`` gets registered ones."""

    File = _FileFactory
    Tabular = _TabularFactory

    @staticmethod
    def get_by_name(workspace: Workspace, name: str, version: str | int = "latest") -> Any:
        """A registered dataset (a version, or the latest)."""
        from .._thresher.datasets import get_by_name

        return get_by_name(workspace, name, None if version == "latest" else str(version))

    @staticmethod
    def get_all(workspace: Workspace) -> dict[str, Any]:
        """Every registered dataset (latest version), by name."""
        return dict(workspace.datasets)
