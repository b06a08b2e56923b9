"""``azureml.core.compute_target``: where scripts import ``ComputeTargetException`` from."""

from __future__ import annotations

from ..exceptions import ComputeTargetException

__all__ = ["ComputeTargetException"]
