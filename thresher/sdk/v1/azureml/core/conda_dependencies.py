"""``azureml.core.conda_dependencies.CondaDependencies``: an environment's packages, as a conda document.

thresher builds environments with uv from PyPI (``thresher.environments``): when a step runs, conda
packages are installed as pip requirements of the same version, ``azureml-*`` packages are left out (this
shim provides what scripts import from them), and the Python version is the one pinned, else the
version of the interpreter that runs thresher (Azure pins its SDK's default; pass ``python_version``)::

    deps = CondaDependencies.create(conda_packages=["pandas"], pip_packages=["azureml-defaults"])
    env.python.conda_dependencies = deps
"""

from __future__ import annotations

import copy
import os
from typing import Any, Iterator

__all__ = ["CondaDependencies"]

_DEFAULT: dict[str, Any] = {
    "name": "project_environment",
    "dependencies": [{"pip": ["azureml-defaults"]}],
    "channels": ["anaconda", "conda-forge"],
}


class CondaDependencies:
    """The packages of an environment: ``python=``, conda packages and the ``pip:`` list."""

    def __init__(
        self, conda_dependencies_file_path: str | None = None, _underlying_structure: dict[str, Any] | None = None
    ) -> None:
        if conda_dependencies_file_path is not None:
            from .._thresher.environments import read_conda_file

            self._document = read_conda_file(conda_dependencies_file_path)
        elif _underlying_structure is not None:
            self._document = copy.deepcopy(_underlying_structure)
        else:
            self._document = copy.deepcopy(_DEFAULT)
        self._document.setdefault("dependencies", [])

    @staticmethod
    def create(
        pip_indexurl: str | None = None,
        pip_packages: list[str] | None = None,
        conda_packages: list[str] | None = None,
        python_version: str | None = None,
        pin_sdk_version: bool = True,
    ) -> CondaDependencies:
        """Packages from lists (``python_version`` None: the Python that runs thresher)."""
        made = CondaDependencies(_underlying_structure={"name": "project_environment", "dependencies": []})
        if python_version:
            made.set_python_version(python_version)
        for package in conda_packages or []:
            made.add_conda_package(package)
        for package in pip_packages or []:
            made.add_pip_package(package)
        if pip_indexurl:
            made.set_pip_option("--index-url " + pip_indexurl)
        return made

    def _pip(self) -> list[str]:
        for item in self._document["dependencies"]:
            if isinstance(item, dict) and "pip" in item:
                pip: list[str] = item["pip"]
                return pip
        pip = []
        self._document["dependencies"].append({"pip": pip})
        return pip

    def _conda(self) -> list[str]:
        return [str(item) for item in self._document["dependencies"] if not isinstance(item, dict)]

    @staticmethod
    def _name(package: str) -> str:
        for separator in ("==", ">=", "<=", "!=", "~=", "=", ">", "<", "[", " ", "@"):
            package = package.split(separator, 1)[0]
        return package.strip().lower()

    def add_pip_package(self, pip_package: str) -> None:
        """Add (or replace) a pip requirement."""
        self.remove_pip_package(self._name(pip_package))
        self._pip().append(pip_package)

    def remove_pip_package(self, pip_package: str) -> None:
        """Remove a pip requirement by name."""
        pip = self._pip()
        pip[:] = [p for p in pip if p.startswith("-") or self._name(p) != self._name(pip_package)]

    def add_conda_package(self, conda_package: str) -> None:
        """Add (or replace) a conda package (installed as the pip requirement of the same version)."""
        self.remove_conda_package(conda_package)
        self._document["dependencies"].insert(len(self._conda()), conda_package)

    def remove_conda_package(self, conda_package: str) -> None:
        """Remove a conda package by name."""
        name = self._name(conda_package)
        self._document["dependencies"] = [
            d for d in self._document["dependencies"] if isinstance(d, dict) or self._name(str(d)) != name
        ]

    def set_python_version(self, version: str) -> None:
        """Pin Python (``3.10``: any 3.10.x)."""
        self.remove_conda_package("python")
        self._document["dependencies"].insert(0, "python=" + version)

    def get_python_version(self) -> str | None:
        """The pinned Python version, if any."""
        for package in self._conda():
            if self._name(package) == "python" and "=" in package:
                return package.split("=", 1)[1].lstrip("=")
        return None

    def add_channel(self, channel: str) -> None:
        """Add a conda channel (kept in the document; thresher installs from PyPI)."""
        channels = self._document.setdefault("channels", [])
        if channel not in channels:
            channels.append(channel)

    def set_pip_option(self, pip_option: str) -> None:
        """Add a pip option line (``--index-url ...``)."""
        self._pip().insert(0, pip_option)

    @property
    def conda_packages(self) -> Iterator[str]:
        """The conda packages, Python included."""
        return iter(self._conda())

    @property
    def pip_packages(self) -> Iterator[str]:
        """The pip requirements."""
        return iter(p for p in self._pip() if not p.startswith("-"))

    def as_dict(self) -> dict[str, Any]:
        """The conda document."""
        return copy.deepcopy(self._document)

    def serialize_to_string(self) -> str:
        """The conda document as YAML."""
        from .._thresher.environments import conda_yaml

        return conda_yaml(self._document)

    def save(self, path: str | None = None) -> str:
        """Write the conda document (default ``conda_dependencies.yml``); returns the path."""
        target = path or "conda_dependencies.yml"
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(self.serialize_to_string())
        return os.path.abspath(target)

    def save_to_file(self, base_directory: str, conda_file_path: str | None = None) -> str:
        """Write the conda document under ``base_directory``; returns the path."""
        return self.save(os.path.join(base_directory, conda_file_path or "conda_dependencies.yml"))

    @staticmethod
    def merge_requirements(requirements: list[str | Any]) -> list[str]:
        """The requirements with duplicates (by name) removed, the last one kept."""
        kept: dict[str, str] = {}
        for requirement in requirements:
            kept[CondaDependencies._name(str(requirement))] = str(requirement)
        return list(kept.values())
