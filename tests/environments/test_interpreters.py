"""Choosing an installed Python for a version request: exact, then the same minor, else a clear error."""

from __future__ import annotations

import platform
import sys

import pytest

from thresher.environments.interpreters import Interpreter, choose, find_interpreter, pyenv_interpreters
from thresher.errors import ThresherError

CURRENT = Interpreter("3.11.7", "/opt/py/3.11.7/bin/python3")
INSTALLED = [
    Interpreter("3.8.18", "/opt/py/3.8.18/bin/python3"),
    Interpreter("3.11.2", "/usr/bin/python3.11"),
    Interpreter("3.12.1", "/opt/py/3.12.1/bin/python3"),
    Interpreter("3.12.4", "/opt/py/3.12.4/bin/python3"),
]


class Listing:
    """The slow full listing, counting how often it is asked for."""

    def __init__(self, interpreters: list[Interpreter]) -> None:
        self.interpreters = interpreters
        self.calls = 0

    def __call__(self) -> list[Interpreter]:
        self.calls += 1
        return self.interpreters


def test_no_request_is_the_current_interpreter() -> None:
    listing = Listing(INSTALLED)
    assert choose(None, "requirements.txt", [CURRENT], listing) == (CURRENT, None)
    assert listing.calls == 0


@pytest.mark.parametrize(
    ("request_", "version"),
    [
        ("3.11.7", "3.11.7"),
        ("3.11", "3.11.7"),
        ("3.11.2", "3.11.2"),
        ("3.12", "3.12.4"),
        ("3.8", "3.8.18"),
        (">=3.9,<3.12", "3.11.7"),
        (">=3.12", "3.12.4"),
        ("3", "3.11.7"),
    ],
)
def test_exact_match_prefers_the_current_interpreter_then_the_newest(request_: str, version: str) -> None:
    chosen, note = choose(request_, "conda.yaml", [CURRENT], Listing(INSTALLED))
    assert (chosen.version, note) == (version, None)


def test_the_full_listing_is_skipped_when_a_quick_candidate_matches() -> None:
    listing = Listing(INSTALLED)
    choose("3.11", "conda.yaml", [CURRENT], listing)
    assert listing.calls == 0
    choose("3.12", "conda.yaml", [CURRENT], listing)
    assert listing.calls == 1


def test_same_minor_version_when_the_exact_one_is_missing_with_a_note() -> None:
    chosen, note = choose("3.12.9", "python=3.12.9 in conda.yaml", [CURRENT], Listing(INSTALLED))
    assert chosen.version == "3.12.4"
    assert note is not None and "3.12.9" in note and "same minor version" in note


def test_no_match_lists_what_is_installed_and_the_fix() -> None:
    with pytest.raises(ThresherError) as caught:
        choose("3.7.4", "python=3.7.4 in conda.yaml", [CURRENT], Listing(INSTALLED))
    message, fix = caught.value.message, caught.value.fix or ""
    assert "Python 3.7.4 (python=3.7.4 in conda.yaml)" in message
    for interpreter in (CURRENT, *INSTALLED):
        assert f"{interpreter.version} ({interpreter.path})" in message
    assert "uv python install 3.7.4" in fix and "python=3.7.4 in conda.yaml" in fix


def test_this_machine() -> None:
    current, note = find_interpreter(None, "requirements.txt")
    assert (current.path, current.version, note) == (sys.executable, platform.python_version(), None)
    minor = ".".join(platform.python_version().split(".")[:2])
    assert find_interpreter(minor, "conda.yaml")[0].path == sys.executable
    for interpreter in pyenv_interpreters():  # pyenv's folder names are the versions they hold
        assert interpreter.path.endswith(f"/{interpreter.version}/bin/python3")
    with pytest.raises(ThresherError, match="Installed: .*" + platform.python_version()):
        find_interpreter("2.5", "python=2.5 in conda.yaml")
