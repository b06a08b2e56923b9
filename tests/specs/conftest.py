"""The YAML files under tests/specs/yaml/, written in Azure ML's documented shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

YAML_DIR = Path(__file__).parent / "yaml"


@pytest.fixture
def yaml_dir() -> Path:
    """tests/specs/yaml/: Azure deployment folders, asset YAMLs, and files with mistakes in them."""
    return YAML_DIR
