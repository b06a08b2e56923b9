"""``StandardPythonParameterType``: a sample of plain Python values (numbers, strings, dates, lists, dicts).

A dict or list sample may hold other parameter types, which convert their own keys or items::

    StandardPythonParameterType({"rows": NumpyParameterType(np.zeros((1, 4))), "threshold": 0.5})
"""

from __future__ import annotations

from typing import Any

from .abstract_parameter_type import AbstractParameterType, thresher_module

__all__ = ["StandardPythonParameterType"]


class StandardPythonParameterType(AbstractParameterType):
    """A value like ``sample_input``: its top-level type is enforced, nested parameter types convert theirs."""

    def deserialize_input(self, input_data: Any) -> Any:
        """The value with the sample's type (an integer for a float sample becomes a float)."""
        return thresher_module("online_schema").standard_input(self, input_data)

    def input_to_swagger(self) -> dict[str, Any]:
        """The JSON schema inferred from the sample."""
        return dict(thresher_module("online_swagger").standard_schema(self))
