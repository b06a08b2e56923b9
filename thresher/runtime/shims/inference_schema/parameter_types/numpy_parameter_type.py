"""``NumpyParameterType``: a numpy array sample; requests send it as nested JSON lists.

``enforce_shape`` checks every dimension but the first (the number of rows may vary);
``enforce_column_type`` converts to the sample's dtype when no value changes (3 for a float array is
fine, 2.5 for an integer one is not, text is never a number)::

    NumpyParameterType(np.array([[5.1, 3.5, 1.4, 0.2]]))      # any number of rows of 4 float64
"""

from __future__ import annotations

import importlib
from typing import Any

from .abstract_parameter_type import AbstractParameterType, thresher_module

__all__ = ["NumpyParameterType"]


class NumpyParameterType(AbstractParameterType):
    """An array like ``sample_input`` (a ``numpy.ndarray``, plain or structured)."""

    def __init__(self, sample_input: Any, enforce_column_type: bool = True, enforce_shape: bool = True) -> None:
        np = importlib.import_module("numpy")
        if not isinstance(sample_input, np.ndarray):
            raise ValueError(
                f"NumpyParameterType needs a numpy array as its sample, not {type(sample_input).__name__}; "
                "pass np.array(...)."
            )
        super().__init__(sample_input)
        self.enforce_column_type = enforce_column_type
        self.enforce_shape = enforce_shape

    def deserialize_input(self, input_data: Any) -> Any:
        """``input_data`` (nested lists; for a structured array, a list of objects or lists) as an array."""
        return thresher_module("online_schema").numpy_input(self, input_data)

    def input_to_swagger(self) -> dict[str, Any]:
        """Nested ``array`` schemas down to the dtype's JSON type, with the sample as ``example``."""
        return dict(thresher_module("online_swagger").numpy_schema(self))
