"""``azureml.core.Environment``: where a step runs. How each kind maps onto thresher:

- ``Environment.get(ws, name)``: a registered environment, or one of Azure's curated ones
  (``AzureML-sklearn-1.0-ubuntu20.04-py38-cpu``) resolved to thresher's catalogue of equivalent pins;
- ``python.conda_dependencies`` / ``from_conda_specification`` / ``from_pip_requirements``: a virtualenv
  built with uv when the step first runs (see ``CondaDependencies``);
- ``python.user_managed_dependencies = True``: the interpreter that runs thresher, as it is;
- ``docker``: kept, unused (thresher runs steps in virtualenvs).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .conda_dependencies import CondaDependencies

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = ["DockerSection", "Environment", "PythonSection"]


class PythonSection:
    """The Python side of an environment: its packages, or the user's own interpreter."""

    def __init__(self) -> None:
        self.user_managed_dependencies = False
        self.interpreter_path = "python"
        self.conda_dependencies_file: str | None = None
        self.base_conda_environment: str | None = None
        self._conda_dependencies: CondaDependencies | None = None

    @property
    def conda_dependencies(self) -> CondaDependencies:
        """The packages (Azure's default when none were set: ``azureml-defaults``, which thresher leaves out)."""
        if self._conda_dependencies is None:
            self._conda_dependencies = CondaDependencies()
        return self._conda_dependencies

    @conda_dependencies.setter
    def conda_dependencies(self, value: CondaDependencies) -> None:
        self._conda_dependencies = value


class DockerSection:
    """Azure's Docker settings: kept for scripts that set them; thresher runs steps in virtualenvs."""

    def __init__(self) -> None:
        self.enabled = False
        self.base_image: str | None = None
        self.base_dockerfile: str | None = None
        self.base_image_registry: Any = None
        self.shm_size: str | None = None
        self.arguments: list = []  # type: ignore[type-arg]


class Environment:
    """A named environment: registered (``get``), or defined here by its packages."""

    def __init__(self, name: str, _skip_defaults: bool = False) -> None:
        self.name = name
        self.version: str | None = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {} if _skip_defaults else {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"}
        self.inferencing_stack_version: str | None = None
        self._reference: str | None = None  # azureml:name:version once registered or fetched
        self._note: str | None = None

    @staticmethod
    def get(workspace: Workspace, name: str, version: str | None = None, label: str | None = None) -> Environment:
        """A registered environment (the latest version when none is given), or a curated Azure one."""
        from .._thresher.environments import fetch

        found = Environment(name, _skip_defaults=True)
        found._reference, found.version, found._note = fetch(workspace._thresher, name, version)
        return found

    @staticmethod
    def from_conda_specification(name: str, file_path: str) -> Environment:
        """An environment from a conda file (``conda.yml``)."""
        made = Environment(name)
        made.python.conda_dependencies = CondaDependencies(conda_dependencies_file_path=file_path)
        return made

    @staticmethod
    def from_pip_requirements(name: str, file_path: str, pip_version: str | None = None) -> Environment:
        """An environment from a ``requirements.txt``."""
        from .._thresher.environments import read_requirements_file

        made = Environment(name)
        deps = CondaDependencies.create(pip_packages=read_requirements_file(file_path))
        made.python.conda_dependencies = deps
        return made

    @staticmethod
    def list(workspace: Workspace) -> dict[str, Environment]:
        """Every registered environment (latest version), by name."""
        return workspace.environments

    def register(self, workspace: Workspace) -> Environment:
        """Register this environment (a new version when its packages changed) and return it."""
        from .._thresher.environments import register

        registered = self.clone(self.name)
        registered._reference, registered.version = register(workspace._thresher, self)
        return registered

    def clone(self, new_name: str) -> Environment:
        """A copy under another name."""
        made = copy.deepcopy(self)
        made.name = new_name
        return made

    def __repr__(self) -> str:
        return f"Environment(Name: {self.name}, Version: {self.version})"

    @staticmethod
    def from_docker_image(
        name: str, image: str, container_registry: Any = None, conda_specification: Any = None
    ) -> Any:
        """Not supported: thresher runs steps in virtualenvs, not containers."""
        from .._lazy import NotSupported

        raise NotSupported(
            "Environment.from_docker_image is not supported by thresher: steps run in virtualenvs, not containers. "
            "Use Environment.from_conda_specification with the image's Python packages."
        )
