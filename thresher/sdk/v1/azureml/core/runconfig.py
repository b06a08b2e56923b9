"""``azureml.core.runconfig.RunConfiguration``: the environment (and compute) a step runs with::

config = RunConfiguration()
config.target = compute_target
config.environment = Environment.get(ws, "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu")
"""

from __future__ import annotations

from typing import Any

from .conda_dependencies import CondaDependencies
from .environment import Environment

__all__ = ["RunConfiguration"]


class RunConfiguration:
    """How a step runs: its ``environment`` and ``target`` (a compute or its name)."""

    def __init__(
        self,
        script: str | None = None,
        arguments: list[str] | None = None,
        framework: str | None = None,
        communicator: str | None = None,
        conda_dependencies: CondaDependencies | None = None,
        _history_enabled: bool | None = None,
        _path: str | None = None,
        _name: str | None = None,
        command: Any = None,
    ) -> None:
        self.script = script
        self.arguments = list(arguments or [])
        self.framework = framework or "Python"
        self.communicator = communicator or "None"
        self.command = command
        self.target: Any = "local"
        self.node_count = 1
        self.environment = Environment("default-environment")
        if conda_dependencies is not None:
            self.environment.python.conda_dependencies = conda_dependencies
        self.history = None
        self.data: dict[str, Any] = {}

    @property
    def environment_variables(self) -> dict[str, str]:
        """The environment's variables (Azure's older name for them)."""
        return self.environment.environment_variables

    @environment_variables.setter
    def environment_variables(self, value: dict[str, str]) -> None:
        self.environment.environment_variables = dict(value)
