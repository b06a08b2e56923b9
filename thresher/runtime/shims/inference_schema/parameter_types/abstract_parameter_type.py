"""``AbstractParameterType``: what every ``@input_schema`` type provides, and what a custom one implements.

A type holds a sample value. ``deserialize_input`` turns a request's JSON value into the type (a
JSON list into a numpy array like the sample, ...) and raises ``ValueError`` saying why it cannot;
``input_to_swagger`` describes the type as a JSON schema with the sample as its ``example``::

    class Upper(AbstractParameterType):
        def deserialize_input(self, input_data):
            return str(input_data).upper()

        def input_to_swagger(self):
            return {"type": "string", "example": self.sample_input}
"""

from __future__ import annotations

import importlib
import sys
from abc import ABC, abstractmethod
from typing import Any

__all__ = ["AbstractParameterType"]


class AbstractParameterType(ABC):
    """A parameter type built from a sample value (``sample_input``)."""

    def __init__(self, sample_input: Any) -> None:
        self.sample_input = sample_input
        self.sample_data_type = type(sample_input)

    @abstractmethod
    def deserialize_input(self, input_data: Any) -> Any:
        """``input_data`` (a request's JSON value, or a value of the type already) as this type."""

    @abstractmethod
    def input_to_swagger(self) -> dict[str, Any]:
        """The JSON schema of the type's JSON form, with the sample's JSON form as ``example``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sample of type {self.sample_data_type.__name__})"


def thresher_module(name: str) -> Any:
    """``thresher.runtime.<name>``, where the built-in types' conversion and schemas are written once."""
    full = "thresher.runtime." + name
    return sys.modules.get(full) or importlib.import_module(full)
