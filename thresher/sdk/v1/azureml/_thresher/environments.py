"""v1 ``Environment`` objects as thresher environments: what a step runs in, and registering one."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML

from thresher.environments.conda import as_pip_requirement
from thresher.environments.resolve import read_requirements, requirement_name
from thresher.errors import NotFoundError, ThresherError
from thresher.pipelines.curated import curated_name
from thresher.sdk import Workspace as ThresherWorkspace
from thresher.sdk.pipelines import WorkspaceSources
from thresher.specs import EnvironmentSpec
from thresher.specs.yamlio import read_yaml

from .workspace import user_error

if TYPE_CHECKING:
    from ..core.conda_dependencies import CondaDependencies
    from ..core.environment import Environment

Resolved = tuple[str | None, str | None, str | None]
"""(``azureml:name:version`` or None for thresher's own interpreter, content hash, note)"""


def read_conda_file(path: str) -> dict[str, Any]:
    """A conda file as a document."""
    document, _ = read_yaml(Path(path), path)
    return dict(document)


def read_requirements_file(path: str) -> list[str]:
    """A requirements file's lines (``-r`` includes read)."""
    return read_requirements(Path(path))


def conda_yaml(document: Mapping[str, Any]) -> str:
    """A conda document as YAML text."""
    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(dict(document), out)
    return out.getvalue()


def thresher_conda(deps: CondaDependencies) -> tuple[dict[str, Any] | None, list[str]]:
    """The conda document thresher builds for ``deps`` (conda packages as pip requirements, ``azureml-*``
    left out), and notes saying so; None when nothing is left to install and no Python is pinned."""
    python: str | None = None
    pip: list[str] = []
    notes: list[str] = []
    moved: list[str] = []
    left_out: list[str] = []
    for package in deps.conda_packages:
        if requirement_name(package) == "python":
            python = package
        elif requirement_name(package) != "pip":
            moved.append(as_pip_requirement(package))
    for line in list(moved) + list(deps.pip_packages):
        name = requirement_name(line) or ""
        (left_out if name.startswith("azureml-") or name == "azureml" else pip).append(line)
    if moved:
        notes.append(f"conda packages {', '.join(moved)} are installed with pip from PyPI (thresher builds with uv).")
    if left_out:
        notes.append(f"left out {', '.join(left_out)}: thresher's azureml shim provides what scripts import from them.")
    if python is None and not pip:
        return None, notes
    dependencies: list[Any] = [python] if python else []
    if pip:
        dependencies += ["pip", {"pip": pip}]
    return {"name": "project_environment", "dependencies": dependencies}, notes


def resolve(env: Environment, sources: WorkspaceSources) -> Resolved:
    """What a step with ``env`` runs in; LookupError saying why when it cannot be resolved."""
    if env._reference is not None:
        reference, note = sources.environment(env._reference, Path.cwd())
        return reference, sources.environment_hash(reference) if reference else None, note or env._note
    if env.version is not None:
        reference, note = sources.environment(f"azureml:{env.name}:{env.version}", Path.cwd())
        return reference, sources.environment_hash(reference) if reference else None, note
    if env.python.user_managed_dependencies:
        return (
            None,
            None,
            f"environment {env.name!r} has user-managed dependencies: the step runs in thresher's Python.",
        )
    document, notes = thresher_conda(env.python.conda_dependencies)
    if env.docker.base_image:
        notes.append(f"docker image {env.docker.base_image!r} is not used: steps run in virtualenvs.")
    if document is None:
        notes.append("no packages to install: the step runs in a virtualenv of thresher's Python with none.")
        document = {"name": "project_environment", "dependencies": []}
    reference = sources.environment_from_conda(env.name, document, notes)
    return reference, sources.environment_hash(reference), " ".join(notes) or None


def fetch(ws: ThresherWorkspace, name: str, version: str | None) -> tuple[str, str, str | None]:
    """``Environment.get``: a curated Azure environment or a registered one, as (reference, version, note)."""
    if curated_name(f"azureml:{name}") is not None:
        try:
            reference, note = WorkspaceSources(ws.instance).environment(f"azureml:{name}", Path.cwd())
        except LookupError as exc:
            from ..exceptions import UserErrorException

            raise UserErrorException(f"Environment.get({name!r}): {exc}.") from None
        assert reference is not None
        return reference, reference.rsplit(":", 1)[1], note
    try:
        record = ws.environments.get(name, version)
    except NotFoundError as exc:
        raise user_error(exc) from None
    return f"azureml:{record.name}:{record.version}", record.version, None


def register(ws: ThresherWorkspace, env: Environment) -> tuple[str, str]:
    """Register ``env``'s definition: its latest version when that has the same packages, else a new one."""
    if env._reference is not None:
        return env._reference, str(env.version)
    document = None
    if not env.python.user_managed_dependencies:
        document, _ = thresher_conda(env.python.conda_dependencies)
        document = document or {"name": "project_environment", "dependencies": []}
    try:
        latest = ws.environments.get(env.name)
        if latest.info.get("conda") == document:
            return f"azureml:{latest.name}:{latest.version}", latest.version
    except NotFoundError:
        pass
    try:
        spec = EnvironmentSpec.model_validate({"name": env.name, "conda_file": document})
        record = ws.environments.create(spec)
    except ThresherError as exc:
        raise user_error(exc) from None
    except ValueError as exc:
        from ..exceptions import UserErrorException

        raise UserErrorException(f"Environment {env.name!r} cannot be registered: {exc}") from None
    return f"azureml:{record.name}:{record.version}", record.version
