"""Azure's curated environments, as a small catalogue of equivalent package pins.

A pipeline or component that names one (``azureml://registries/azureml/environments/sklearn-1.5/
labels/latest``, ``azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest``) gets a registered
environment with these pins; the step's note says so. Azure's Docker images are not used: the pins
are the Python packages those images are documented to hold.
"""

from __future__ import annotations

import re
from typing import Any

CATALOGUE: dict[str, dict[str, Any]] = {
    "sklearn-1.5": {
        "python": "3.10",
        "pip": ["scikit-learn==1.5.2", "pandas==2.2.3", "numpy==1.26.4", "scipy==1.13.1", "joblib==1.4.2"],
    },
    "sklearn-1.1": {
        "python": "3.10",
        "pip": ["scikit-learn==1.1.3", "pandas==1.5.3", "numpy==1.23.5", "scipy==1.10.1", "joblib==1.2.0"],
    },
    # Azure's image has Python 3.7, which is past its end of life; 3.8 has wheels of the same packages.
    "sklearn-0.24": {
        "python": "3.8",
        "pip": ["scikit-learn==0.24.2", "pandas==1.2.5", "numpy==1.20.3", "scipy==1.6.3", "joblib==1.0.1"],
    },
    "sklearn-1.0": {
        "python": "3.8",
        "pip": ["scikit-learn==1.0.2", "pandas==1.3.5", "numpy==1.21.6", "scipy==1.7.3", "joblib==1.1.1"],
    },
    "lightgbm-3.3": {
        "python": "3.8",
        "pip": ["lightgbm==3.3.5", "scikit-learn==1.0.2", "pandas==1.3.5", "numpy==1.21.6"],
    },
    "pytorch-2.2": {"python": "3.10", "pip": ["torch==2.2.2", "numpy==1.26.4", "pandas==2.2.3", "pillow==10.4.0"]},
    "tensorflow-2.16": {"python": "3.10", "pip": ["tensorflow-cpu==2.16.2", "numpy==1.26.4", "pandas==2.2.3"]},
    "minimal": {"python": "3.10", "pip": ["pandas==2.2.3", "numpy==1.26.4"]},
    "mlflow": {
        "python": "3.10",
        "pip": ["mlflow-skinny==2.16.2", "scikit-learn==1.5.2", "pandas==2.2.3", "numpy==1.26.4"],
    },
}

_REGISTRY = re.compile(r"^azureml://registries/azureml/environments/(?P<name>[^/]+)(?:/.*)?$")
_AZUREML_PREFIX = re.compile(r"^azureml:(?P<name>AzureML-[^:@]+)(?:[:@].*)?$", re.IGNORECASE)


def curated_name(reference: str) -> str | None:
    """The curated environment ``reference`` names, or None when it names none."""
    match = _REGISTRY.match(reference) or _AZUREML_PREFIX.match(reference)
    return match.group("name") if match else None


def curated_entry(name: str) -> tuple[str, dict[str, Any]] | None:
    """The catalogue entry closest to the curated name: ``AzureML-sklearn-1.0-ubuntu20.04-py38-cpu`` is
    ``sklearn-1.0``; None when the catalogue has none."""
    lowered = name.lower().removeprefix("azureml-")
    for key in sorted(CATALOGUE, key=len, reverse=True):
        if lowered.startswith(key):
            return key, CATALOGUE[key]
    if "minimal" in lowered:
        return "minimal", CATALOGUE["minimal"]
    return None


def conda_document(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry as a conda.yaml document."""
    return {
        "name": "curated",
        "channels": ["conda-forge"],
        "dependencies": [f"python={entry['python']}", "pip", {"pip": list(entry["pip"])}],
    }
