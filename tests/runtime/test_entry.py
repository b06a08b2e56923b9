"""Loading a scoring script and the error boundary around it (in-process)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from thresher.runtime.entry import MiniBatchContext, ScoringScript, UserCodeError, error_boundary


@pytest.fixture
def script(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "my_scorer.py"
    yield path
    sys.modules.pop("my_scorer", None)


def test_the_script_is_a_module_named_after_its_file(script: Path) -> None:
    script.write_text("def run(mini_batch):\n    return [__name__]\n")
    loaded = ScoringScript.load(str(script))
    assert sys.modules["my_scorer"] is loaded.module
    loaded.init()  # no init() is fine, as in v1 scripts
    assert loaded.run(["a"], MiniBatchContext(None, 0)) == ["my_scorer"]
    loaded.shutdown()


def test_two_argument_run_gets_the_context(script: Path) -> None:
    script.write_text(
        "def run(mini_batch, context):\n    return [context.partition_key_value, context.minibatch_index]\n"
    )
    loaded = ScoringScript.load(str(script))
    assert loaded.takes_context
    assert loaded.run([], MiniBatchContext({"k": "v"}, 3)) == [{"k": "v"}, 3]


def test_a_script_without_run_is_refused(script: Path) -> None:
    script.write_text("def init():\n    pass\n")
    with pytest.raises(TypeError, match="defines no run"):
        ScoringScript.load(str(script))
    assert "my_scorer" in sys.modules  # it imported; only the contract was broken


def test_a_missing_script_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ScoringScript.load(str(tmp_path / "nope.py"))


def test_the_boundary_turns_exceptions_into_data_and_logs_the_traceback(script: Path, tmp_path: Path) -> None:
    script.write_text("def run(mini_batch):\n    return 1 / 0\n")
    loaded = ScoringScript.load(str(script))
    log = tmp_path / "logs" / "error.txt"
    with pytest.raises(UserCodeError) as caught, error_boundary(str(log), "run() failed on task t1"):
        loaded.run([], MiniBatchContext(None, 0))
    error = caught.value.error
    assert set(error) == {"type", "message", "traceback", "log"}
    assert (error["type"], error["message"], error["log"]) == ("ZeroDivisionError", "division by zero", str(log))
    assert f'{script}", line 2, in run' in error["traceback"]
    written = log.read_text()
    assert "run() failed on task t1" in written and "return 1 / 0" in written


def test_a_huge_traceback_is_cut_in_the_message_but_whole_in_the_log(tmp_path: Path) -> None:
    log = tmp_path / "error.txt"
    with pytest.raises(UserCodeError) as caught, error_boundary(str(log), "header"):
        raise ValueError("x" * 20_000)
    assert len(caught.value.error["traceback"]) < 4100
    assert "x" * 20_000 in log.read_text()
