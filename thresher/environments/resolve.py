"""What an environment asks for, normalised: a Python version request, pip requirements, and notes.

Sources, in MLflow's order of preference for a folder: ``python_env.yaml`` (its ``python:`` and its
``dependencies``, where ``-r requirements.txt`` is read from the folder), ``conda.yaml`` (its
``python=`` and ``pip:`` list, and pip, setuptools<82 and wheel when it lists ``pip``, as conda's pip
package brings them: see ``conda``), ``requirements.txt`` (the current interpreter's Python). An
environment asset records the contents of its one dependency file, so it resolves without the file.

Two rewrites apply to every source:

- Packages that exist only to talk to Azure's runtime (``AZURE_RUNTIME_PACKAGES``) are left out with
  one note: thresher's shims provide what scoring scripts import from them, and an installed
  ``azureml.core`` would shadow the shim and fail offline.
- In an MLflow model's folder, ``mlflow`` becomes ``mlflow-skinny`` of the same version (the same
  Python package without the tracking server and UI, which a batch worker never uses).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thresher.environments.conda import CondaEnvironment, load_conda_file, read_conda
from thresher.errors import ThresherError
from thresher.runtime.mlflow_driver import RUNTIME_REQUIREMENTS
from thresher.specs.yamlio import read_yaml

AZURE_RUNTIME_PACKAGES = frozenset(
    {
        "azureml-core",
        "azureml-defaults",
        "azureml-dataset-runtime",
        "azureml-mlflow",
        "azureml-inference-server-http",
        "inference-schema",
    }
)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_INCLUDE = re.compile(r"^(-r|--requirement)(\s+|=)(?P<path>.+)$")


@dataclass(frozen=True)
class ResolvedEnvironment:
    """An environment as thresher builds it."""

    python_request: str | None  # "3.11.7", "3.8" or ">=3.9,<3.12"; None: the current interpreter's version
    requirements: list[str]  # pip requirement lines, in their order, as uv installs them
    notes: list[str] = field(default_factory=list)
    python_origin: str = "the current interpreter"  # where python_request came from, for messages

    def document(self) -> dict[str, Any]:
        """As plain data."""
        return {"python": self.python_request, "requirements": list(self.requirements), "notes": list(self.notes)}


def requirement_name(line: str) -> str | None:
    """The normalised project name of a requirement line (``Azureml_Core[x]>=1`` -> ``azureml-core``)."""
    if line.startswith("-") or "://" in line.split("@")[0]:
        return None
    match = _NAME.match(line)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else None


def requirement_lines(text: str) -> list[str]:
    """The requirement lines of a requirements.txt text: comments, blank lines and continuations removed."""
    lines = []
    for raw in text.replace("\\\n", "").splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line:
            lines.append(line)
    return lines


def read_requirements(path: Path, _seen: frozenset[Path] = frozenset()) -> list[str]:
    """A requirements file's lines with its ``-r other.txt`` includes read in place (relative to it)."""
    path = path.resolve()
    if path in _seen:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ThresherError(
            f"Cannot read the requirements file {path}: {exc.strerror}.",
            fix="Check that the file exists next to the file that names it.",
        ) from exc
    return expand_includes(requirement_lines(text), path.parent, _seen | {path})


def expand_includes(lines: Sequence[str], folder: Path, _seen: frozenset[Path] = frozenset()) -> list[str]:
    """``lines`` with each ``-r file`` replaced by that file's lines (``file`` relative to ``folder``)."""
    out: list[str] = []
    for line in lines:
        match = _INCLUDE.match(line)
        if match is None:
            out.append(line)
        else:
            out.extend(read_requirements(folder / match["path"].strip(), _seen))
    return out


def read_python_env(path: Path) -> dict[str, Any]:
    """An MLflow python_env.yaml with its ``-r`` includes resolved against its folder."""
    document, _ = read_yaml(path, str(path))
    document["dependencies"] = expand_includes([str(d) for d in document.get("dependencies") or []], path.parent)
    return document


def from_conda(
    document: Any, source: str, *, mlflow_folder: bool = False, packages: Sequence[str] | None = None
) -> ResolvedEnvironment:
    """A conda environment document (conda-only packages are an error).

    ``packages`` replaces its ``pip:`` list (MLflow's fallback to the requirements.txt beside it).
    """
    conda = read_conda(document, source)
    origin = f"{conda.python_entry} in {source}" if conda.python_entry else "the current interpreter"
    requirements, notes = _with_pip_package(conda, conda.pip if packages is None else packages, source)
    return _finish(conda.python, requirements, origin, notes=notes, mlflow_folder=mlflow_folder)


def from_python_env(document: Mapping[str, Any], source: str, *, mlflow_folder: bool = False) -> ResolvedEnvironment:
    """An MLflow python_env document whose ``-r`` includes were already read (``read_python_env``)."""
    dependencies = [str(d).strip() for d in document.get("dependencies") or [] if str(d).strip()]
    unresolved = [d for d in dependencies if _INCLUDE.match(d)]
    if unresolved:
        raise ThresherError(
            f"{source} includes {', '.join(unresolved)}, which thresher cannot read any more: the environment "
            "was registered without the file's contents.",
            fix="Register the environment again from its folder (thresher environment create -f ...).",
        )
    python = document.get("python")
    if isinstance(python, float):
        raise ThresherError(
            f"{source}: python is the number {python}, so a version such as 3.10 would read as 3.1.",
            fix=f'Write the version as text: python: "{python}" (or the full version, e.g. 3.10.13).',
        )
    request = str(python).strip() if python not in (None, "") else None
    origin = f"python: {request} in {source}" if request else "the current interpreter"
    notes = []
    if document.get("build_dependencies"):
        notes.append(
            "build_dependencies (" + ", ".join(map(str, document["build_dependencies"])) + ") are not installed: "
            "uv builds packages in isolated build environments of their own."
        )
    return _finish(request, dependencies, origin, notes=notes, mlflow_folder=mlflow_folder)


def from_requirements(lines: Sequence[str], *, mlflow_folder: bool = False) -> ResolvedEnvironment:
    """A requirements list: installed into a virtualenv of the current interpreter's Python version."""
    return _finish(None, [str(line) for line in lines], "the current interpreter", mlflow_folder=mlflow_folder)


def from_asset_info(info: Mapping[str, Any], label: str) -> ResolvedEnvironment | None:
    """An environment asset from what it recorded (``info``); None when it has no dependency file."""
    if info.get("conda") is not None:
        return from_conda(info["conda"], f"the conda file of environment {label}")
    if info.get("python_env") is not None:
        return from_python_env(info["python_env"], f"the python_env file of environment {label}")
    if info.get("requirements") is not None:
        return from_requirements(info["requirements"])
    return None


def from_folder(folder: Path) -> ResolvedEnvironment | None:
    """The environment an MLflow model folder declares; None when it has no environment file."""
    python_env, conda, requirements = (folder / n for n in ("python_env.yaml", "conda.yaml", "requirements.txt"))
    if python_env.is_file():
        return from_python_env(read_python_env(python_env), str(python_env), mlflow_folder=True)
    if conda.is_file():
        # MLflow's own fallback: python (and pip) from conda.yaml, packages from requirements.txt beside it
        packages = read_requirements(requirements) if requirements.is_file() else None
        return from_conda(load_conda_file(conda), str(conda), mlflow_folder=True, packages=packages)
    if requirements.is_file():
        return from_requirements(read_requirements(requirements), mlflow_folder=True)
    return None


def _with_pip_package(conda: CondaEnvironment, pip: Sequence[str], source: str) -> tuple[list[str], list[str]]:
    """``pip`` preceded by what conda's pip package brings (when ``pip`` is listed), and a note saying so.

    A pip, setuptools or wheel that ``pip`` names itself wins: the user's pin is the one installed.
    """
    named = {requirement_name(line) for line in pip}
    added = [line for line in conda.pip_package() if requirement_name(line) not in named]
    if not added:
        return list(pip), []
    note = (
        f"Added {', '.join(added)}: {source} lists {conda.pip_entry}, and conda's pip package brings pip, setuptools "
        "and wheel (setuptools below 82, which removed pkg_resources, so that packages importing it work)."
    )
    return [*added, *pip], [note]


def _finish(
    python: str | None,
    requirements: Sequence[str],
    origin: str,
    *,
    notes: Sequence[str] = (),
    mlflow_folder: bool = False,
) -> ResolvedEnvironment:
    """Leave out Azure's runtime packages and, for an MLflow model, install mlflow as mlflow-skinny."""
    kept: list[str] = []
    azure: list[str] = []
    swapped: list[str] = []
    for line in requirements:
        name = requirement_name(line)
        if name in AZURE_RUNTIME_PACKAGES:
            azure.append(line)
        elif name == "mlflow" and mlflow_folder:
            skinny = "mlflow-skinny" + line.lstrip()[len("mlflow") :]
            kept.append(skinny)
            swapped.append(f"{line} is installed as {skinny}")
        else:
            kept.append(line)
    all_notes = list(notes)
    if mlflow_folder:
        # mlflow-skinny (unlike mlflow) brings no numpy/pandas/pyarrow, and images need Pillow.
        present = {requirement_name(line) for line in kept}
        added = [name for name in RUNTIME_REQUIREMENTS if name not in present]
        kept.extend(added)
        if added:
            all_notes.append(f"Added {', '.join(added)}: the built-in MLflow driver reads files with them.")
        if "orjson" not in present:
            kept.append("orjson")
            all_notes.append("Added orjson: online deployments read and write JSON with it (3 to 10 times faster).")
    if azure:
        all_notes.append(
            f"Left out {', '.join(azure)}: these packages only talk to Azure's runtime. thresher's shims provide "
            "what scoring scripts import from them (azureml.core.Model, azureml_user.parallel_run), and an "
            "installed azureml.core would shadow the shim and fail offline."
        )
    if swapped:
        all_notes.append(
            "; ".join(swapped) + ": the same mlflow package without the tracking server and UI, which batch "
            "scoring does not use."
        )
    return ResolvedEnvironment(python, kept, all_notes, origin)
