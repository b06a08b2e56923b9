"""Executors by name: lazy imports, and the install command when a backend's extra is missing."""

from __future__ import annotations

import pytest

from thresher import executors
from thresher.errors import MissingExtraError, ThresherError
from thresher.executors import EXECUTORS, load_executor
from thresher.executors.base import Executor
from thresher.executors.local import LocalExecutor


def test_local_is_the_process_pool_and_implements_the_interface() -> None:
    assert load_executor("local") is LocalExecutor
    assert isinstance(LocalExecutor(), Executor)


def test_every_registered_executor_exists_and_implements_the_interface() -> None:
    for name in EXECUTORS:
        assert isinstance(load_executor(name)(), Executor), name


def test_a_backend_without_its_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # A registry entry whose optional package is absent, as Ray's is where thresher[ray] is not installed.
    monkeypatch.setitem(executors.EXECUTORS, "spark", "thresher.executors.spark:SparkExecutor")
    monkeypatch.setitem(executors._EXTRAS, "spark", ("thresher_no_such_package", "spark"))
    with pytest.raises(MissingExtraError) as caught:
        load_executor("spark")
    assert str(caught.value) == "Compute 'spark' needs thresher_no_such_package, which is not installed."
    assert caught.value.fix == "Install it with: pip install 'thresher[spark]'"


def test_an_unknown_executor_lists_the_known_ones() -> None:
    with pytest.raises(ThresherError) as caught:
        load_executor("kubernetes")
    assert "'kubernetes' is not a known executor" in str(caught.value)
    assert all(name in str(caught.value) for name in EXECUTORS)
