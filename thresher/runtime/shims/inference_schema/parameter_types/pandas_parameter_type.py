"""``PandasParameterType``: a DataFrame sample; requests send it as JSON in the layout ``orient`` names.

``orient`` is one of pandas' ``to_json`` layouts: ``records`` (a list of row objects, the default),
``split``, ``index``, ``columns``, ``values``, ``table``. ``enforce_shape`` requires exactly the
sample's columns (and puts them in its order); ``enforce_column_type`` converts each column to the
sample's dtype when no value changes, naming the column that cannot be; ``apply_column_names`` gives
unnamed data (lists instead of row objects) the sample's column names::

    PandasParameterType(pd.DataFrame({"sepal_length": [5.1], "species": ["setosa"]}))
"""

from __future__ import annotations

import importlib
from typing import Any

from .abstract_parameter_type import AbstractParameterType, thresher_module

__all__ = ["PandasParameterType"]

ORIENTS = ("split", "records", "index", "columns", "values", "table")


class PandasParameterType(AbstractParameterType):
    """A DataFrame like ``sample_input``."""

    def __init__(
        self,
        sample_input: Any,
        enforce_column_type: bool = True,
        enforce_shape: bool = True,
        apply_column_names: bool = False,
        orient: str = "records",
    ) -> None:
        pd = importlib.import_module("pandas")
        if not isinstance(sample_input, pd.DataFrame):
            raise ValueError(
                f"PandasParameterType needs a pandas DataFrame as its sample, not {type(sample_input).__name__}; "
                "pass pd.DataFrame(...)."
            )
        if orient not in ORIENTS:
            raise ValueError(f"PandasParameterType(orient={orient!r}): orient must be one of {', '.join(ORIENTS)}.")
        super().__init__(sample_input)
        self.enforce_column_type = enforce_column_type
        self.enforce_shape = enforce_shape
        self.apply_column_names = apply_column_names
        self.orient = orient

    def deserialize_input(self, input_data: Any) -> Any:
        """``input_data`` (JSON in the ``orient`` layout) as a DataFrame with the sample's columns and dtypes."""
        return thresher_module("online_schema").pandas_input(self, input_data)

    def input_to_swagger(self) -> dict[str, Any]:
        """The JSON schema of the ``orient`` layout, with the sample in that layout as ``example``."""
        return dict(thresher_module("online_swagger").pandas_schema(self))
