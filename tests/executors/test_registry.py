"""Executors by name: lazy imports, and the install command when a backend's extra is missing."""

from __future__ import annotations

import importlib.util

import pytest

from thresher.errors import MissingExtraError, ThresherError
from thresher.executors import EXECUTORS, load_executor
from thresher.executors.base import Executor
from thresher.executors.local import LocalExecutor


def test_local_is_the_process_pool_and_implements_the_interface() -> None:
    assert load_executor("local") is LocalExecutor
    assert isinstance(LocalExecutor(), Executor)


@pytest.mark.skipif(
    importlib.util.find_spec("ray") is not None
    and importlib.util.find_spec("thresher.executors.ray_cluster") is not None,
    reason="Ray and its executor are installed here",
)
def test_ray_without_its_extra_names_the_pip_command() -> None:
    with pytest.raises(MissingExtraError) as caught:
        load_executor("ray")
    assert str(caught.value) == "Compute 'ray' needs ray, which is not installed."
    assert caught.value.fix == "Install it with: pip install 'thresher[ray]'"


def test_an_unknown_executor_lists_the_known_ones() -> None:
    with pytest.raises(ThresherError) as caught:
        load_executor("kubernetes")
    assert "'kubernetes' is not a known executor" in str(caught.value)
    assert all(name in str(caught.value) for name in EXECUTORS)
