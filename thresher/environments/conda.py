"""conda.yaml as thresher reads it: the ``python=`` version, ``pip`` and the ``pip:`` list, nothing else.

thresher builds environments with uv from PyPI, not with conda. A conda.yaml may therefore hold only
``python``, ``pip`` (any version) and the ``pip:`` list; any other dependency is an error that lists
them all and shows each written as a pip requirement (conda's ``numpy=1.21`` is pip's ``numpy==1.21.*``).

A conda file that lists ``pip`` gets what conda's pip package brings: pip itself (of the version
asked for, ``pip=23.0`` meaning ``pip==23.0.*``), setuptools and wheel (``PIP_BRINGS``). setuptools
stays below 82, the release that removed ``pkg_resources``, so that older packages that import it
work; on Python 3.8 uv picks 75.3.x, the last setuptools for 3.8. A pip, setuptools or wheel that
the ``pip:`` list names wins over these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thresher.errors import ThresherError
from thresher.specs.yamlio import LineMap, read_yaml

# [channel::]name[ version-spec]
_ENTRY = re.compile(r"^\s*(?:[^:\s]+::)?(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<rest>.*?)\s*$")
_VERSION = re.compile(r"^\d+(\.\d+){0,2}$")
_CLAUSE = r"\s*(>=|<=|>|<|!=|==)\s*\d+(\.\d+){0,2}(\.\*)?\s*"
_RANGE = re.compile(rf"^{_CLAUSE}(,{_CLAUSE})*$")

# What conda's pip package depends on. setuptools 82.0.0 (February 2026) removed pkg_resources, which
# packages written before it still import at run time (``import pkg_resources``).
PIP_BRINGS = ("setuptools<82", "wheel")


@dataclass(frozen=True)
class CondaEnvironment:
    """What thresher takes from a conda.yaml."""

    python: str | None  # "3.8", "3.11.7" or a range ">=3.9,<3.12"; None when python is not pinned
    python_entry: str | None  # the dependency as written ("python=3.8"), for messages
    pip: list[str] = field(default_factory=list)  # the pip: list
    pip_entry: str | None = None  # the pip dependency as written ("pip", "pip=23.0"); None when not listed

    def pip_package(self) -> list[str]:
        """What conda's pip package installs, as pip requirements; empty when the file does not list ``pip``.

        ``[pip==23.0.*, setuptools<82, wheel]`` for ``pip=23.0`` (``resolve`` leaves out those that the
        ``pip:`` list names itself).
        """
        if self.pip_entry is None:
            return []
        return [as_pip_requirement(self.pip_entry), *PIP_BRINGS]


def read_conda(document: Any, source: str, lines: LineMap | None = None) -> CondaEnvironment:
    """The python request and pip requirements of a conda environment document.

    ``source`` names the file in messages. Conda-only dependencies raise ThresherError listing them all,
    with the line of each when ``lines`` (from ``read_yaml``) are given.
    """
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise ThresherError(
            f"{source} is not a conda environment file: it holds {type(document).__name__}, not a mapping.",
            fix="Write it as name:, channels:, dependencies: [python=3.x, pip, {pip: [...]}].",
        )
    dependencies = document.get("dependencies") or []
    if not isinstance(dependencies, list):
        raise ThresherError(
            f"{source}: dependencies is {dependencies!r}; it must be a list.",
            fix="Write dependencies: as a list, e.g. [python=3.11, pip, {pip: [scikit-learn==1.5.2]}].",
        )
    python = python_entry = pip_entry = None
    pip: list[str] = []
    conda_only: list[tuple[str, int | None]] = []
    for index, item in enumerate(dependencies):
        if isinstance(item, Mapping):
            for key, value in item.items():
                if key == "pip":
                    pip.extend(str(v).strip() for v in (value or []) if str(v).strip())
                else:
                    conda_only.append((f"{key}: {value!r}", _line(lines, index)))
            continue
        text = str(item).strip()
        match = _ENTRY.match(text)
        name = match["name"].lower() if match else text
        if name == "python" and match is not None:
            python, python_entry = python_request(match["rest"], text, source), text
        elif name == "pip":
            pip_entry = text
        else:
            conda_only.append((text, _line(lines, index)))
    if conda_only:
        raise _conda_only_error(conda_only, source)
    return CondaEnvironment(python, python_entry, pip, pip_entry)


def load_conda_file(path: Path) -> dict[str, Any]:
    """Read and check a conda.yaml (conda-only packages are reported with their lines)."""
    document, lines = read_yaml(path, str(path))
    read_conda(document, str(path), lines)
    return document


def python_request(rest: str, entry: str, source: str) -> str | None:
    """The Python version asked for by conda's ``python=3.8`` / ``python==3.11.7=h12_0`` / ``python>=3.9``."""
    rest = rest.strip()
    if not rest:
        return None
    if _RANGE.match(rest) and not rest.startswith("=="):
        return rest.replace(" ", "")
    version = rest.lstrip("=").split("=")[0].split()[0].removesuffix("*").removesuffix(".")
    if _VERSION.match(version):
        return version
    raise ThresherError(
        f"{source}: {entry!r} does not name a Python version thresher understands.",
        fix="Write python=3.11 (any 3.11.x), python=3.11.7 (that release), or a range such as python>=3.10,<3.13.",
    )


def as_pip_requirement(entry: str) -> str:
    """A conda dependency written as a pip requirement: ``numpy=1.21`` -> ``numpy==1.21.*``."""
    match = _ENTRY.match(entry)
    if match is None:
        return entry
    name, rest = match["name"], match["rest"].strip()
    if not rest:
        return name
    if rest[0].isdigit():
        rest = "=" + rest.split()[0]
    if rest.startswith("=") and not rest.startswith("=="):
        version = rest[1:].split("=")[0]
        if version.strip(".*") == "":  # conda's name=* is any version
            return name
        if version.endswith("*") or version.count(".") >= 2:
            return f"{name}=={version}"
        return f"{name}=={version}.*"
    if rest.startswith("=="):
        return f"{name}=={rest[2:].split('=')[0]}"
    return name + rest.replace(" ", "")


def _conda_only_error(entries: list[tuple[str, int | None]], source: str) -> ThresherError:
    listed = ", ".join(f"{text} (line {line})" if line else text for text, line in entries)
    pip_lines = "\n".join(f"      - {as_pip_requirement(text)}" for text, _ in entries if ":" not in text)
    return ThresherError(
        f"{source} lists packages that only conda installs: {listed}. thresher builds environments with uv "
        "from PyPI, so every package must be a pip requirement under pip:.",
        fix="Move them into the pip: list as pip requirements (conda's name=1.2 is pip's name==1.2.*):\n"
        "  dependencies:\n    - python=3.x\n    - pip\n    - pip:\n"
        f"{pip_lines}\n"
        "Conda-only packages with no PyPI equivalent (cudatoolkit, mkl, ...) can be dropped: PyPI wheels "
        "bundle the libraries they need.",
    )


def _line(lines: LineMap | None, index: int) -> int | None:
    return lines.line_of(("dependencies", index)) if lines is not None else None
