"""A step's data input as ``Run.get_context().input_datasets[name]`` gives it: the local path (a ``str``),
which also answers what scripts ask of Azure's dataset objects there::

    path = run.input_datasets["raw"]               # "/.../inputs/raw": open(os.path.join(path, ...))
    frame = run.input_datasets["iris"].to_pandas_dataframe()   # a tabular input, read as declared

Standard library only (pandas is imported by ``to_pandas_dataframe``), Python 3.8.
"""

from __future__ import annotations

import glob
import importlib
import os
import shutil
from typing import Any

__all__ = ["DatasetPath"]

_TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pqt")


class DatasetPath(str):
    """The local path of a step's input or output, with the dataset methods scripts call on it."""

    kind: str
    options: dict[str, Any]

    def __new__(cls, path: str, kind: str = "file", options: dict[str, Any] | None = None) -> DatasetPath:
        made = super().__new__(cls, path)
        made.kind = kind
        made.options = dict(options or {})
        return made

    def _files(self) -> list[str]:
        if os.path.isfile(self):
            return [str(self)]
        found = glob.glob(os.path.join(self, "**", "*"), recursive=True)
        return sorted(path for path in found if os.path.isfile(path))

    def to_path(self) -> list[str]:
        """The files, relative to the input's folder, each starting with ``/`` (as Azure's FileDataset)."""
        if os.path.isfile(self):
            return ["/" + os.path.basename(self)]
        return ["/" + os.path.relpath(path, self).replace(os.sep, "/") for path in self._files()]

    def download(self, target_path: str | None = None, overwrite: bool = False, **kwargs: Any) -> list[str]:
        """The files' local paths; with ``target_path``, copied there first."""
        if target_path is None:
            return self._files()
        copied = []
        for path in self._files():
            relative = os.path.basename(path) if os.path.isfile(self) else os.path.relpath(path, self)
            target = os.path.join(target_path, relative)
            if os.path.exists(target) and not overwrite:
                raise FileExistsError(f"{target} exists; pass overwrite=True to replace it.")
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            shutil.copy2(path, target)
            copied.append(target)
        return copied

    def to_pandas_dataframe(self, **kwargs: Any) -> Any:
        """The rows of every delimited (or Parquet) file of the input, in file name order, as one DataFrame."""
        pd = importlib.import_module("pandas")  # in the step's environment, only when asked for
        files = [path for path in self._files() if path.lower().endswith(_TABLE_SUFFIXES)] or self._files()
        if not files:
            raise FileNotFoundError(f"Input {self} holds no files to read into a DataFrame.")
        frames = [self._read(pd, path) for path in files]
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def _read(self, pd: Any, path: str) -> Any:
        if path.lower().endswith((".parquet", ".pqt")):
            frame = pd.read_parquet(path)
        else:
            separator = self.options.get("separator", ",")
            header = 0 if self.options.get("header", True) else None
            frame = pd.read_csv(path, sep=separator, header=header, encoding=self.options.get("encoding", "utf8"))
        if self.options.get("include_path"):
            frame.insert(
                0, "Path", "/" + os.path.relpath(path, os.path.dirname(self) if os.path.isfile(self) else self)
            )
        return frame
