"""``load_spec`` / ``parse_spec``: a YAML file or a mapping in, a validated spec (or every problem) out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias, cast, get_args

from pydantic import ValidationError

from thresher.errors import Problem, SpecError
from thresher.specs.assets import CodeSpec, DataSpec, EnvironmentSpec, ModelSpec
from thresher.specs.compute import ComputeSpec
from thresher.specs.datastores import DatastoreSpec
from thresher.specs.deployments import BatchDeploymentSpec, normalise_deployment
from thresher.specs.endpoints import BatchEndpointSpec
from thresher.specs.fields import Kind, ResourceSpec
from thresher.specs.online import OnlineDeploymentSpec, OnlineEndpointSpec
from thresher.specs.overrides import SOURCE as OVERRIDE_SOURCE
from thresher.specs.overrides import merge_overrides
from thresher.specs.problems import Locator, dotted_path, problems_from, show, sort_problems
from thresher.specs.yamlio import KeyPath, LineMap, read_yaml

Spec: TypeAlias = (
    ModelSpec
    | EnvironmentSpec
    | CodeSpec
    | DataSpec
    | DatastoreSpec
    | ComputeSpec
    | BatchEndpointSpec
    | BatchDeploymentSpec
    | OnlineEndpointSpec
    | OnlineDeploymentSpec
)

SPEC_CLASSES: dict[Kind, type[ResourceSpec]] = {
    cls.kind: cls for cls in get_args(Spec) if isinstance(cls, type) and issubclass(cls, ResourceSpec)
}

_LABELS: dict[Kind, str] = {
    "model": "model",
    "environment": "environment",
    "code": "code asset",
    "data": "data asset",
    "datastore": "datastore",
    "compute": "compute",
    "batch_endpoint": "batch endpoint",
    "batch_deployment": "batch deployment",
    "online_endpoint": "online endpoint",
    "online_deployment": "online deployment",
}

# Azure's $schema file names (lowercase, without .schema.json). None: an Azure kind thresher does not
# read with this command, named only to say what the file is.
_SCHEMAS: dict[str, Kind | None] = {
    "model": "model",
    "environment": "environment",
    "code": "code",
    "data": "data",
    "azureblob": "datastore",
    "azuredatalakegen2": "datastore",
    "azuredatalakegen1": "datastore",
    "azurefile": "datastore",
    "amlcompute": "compute",
    "computeinstance": "compute",
    "batchendpoint": "batch_endpoint",
    "batchdeployment": "batch_deployment",
    "modelbatchdeployment": "batch_deployment",
    "pipelinecomponentbatchdeployment": "batch_deployment",
    "managedonlineendpoint": "online_endpoint",
    "kubernetesonlineendpoint": None,
    "managedonlinedeployment": "online_deployment",
    "kubernetesonlinedeployment": None,
    "commandjob": None,
    "pipelinejob": None,
    "paralleljob": None,
    "sweepjob": None,
    "commandcomponent": None,
    "parallelcomponent": None,
    "pipelinecomponent": None,
    "mltable": None,
    "schedule": None,
    "workspace": None,
}


def load_spec(path: str | Path, kind: Kind, *, overrides: Sequence[str] = ()) -> Spec:
    """Read the Azure ML v2 (or thresher) YAML file ``path`` as a spec of ``kind``.

    Relative paths in it resolve against the file's folder. ``overrides`` are ``--set`` items
    (``settings.mini_batch_size=20``) applied before validation. Raises SpecError listing every
    problem, each with the file and line (or ``--set``).
    """
    file = Path(path)
    data, lines = read_yaml(file, str(path))
    return _build(data, kind, file.parent.absolute(), str(path), lines, overrides, what=file.name)


def parse_spec(
    data: Mapping[str, Any],
    kind: Kind,
    *,
    base_dir: Path,
    source: str = "<flags>",
    overrides: Sequence[str] = (),
) -> Spec:
    """Validate ``data`` (a YAML document as dicts, CLI flags, a stored ``to_document()``) as ``kind``.

    Relative paths resolve against ``base_dir``. Raises SpecError listing every problem.
    """
    what = _LABELS.get(kind, str(kind))
    if not isinstance(data, Mapping):
        problem = Problem(source, None, "", f"the {what} is {show(data)}; it must be a mapping of keys.")
        raise SpecError([problem], what=what)
    return _build(dict(data), kind, base_dir, source, None, overrides, what=what)


def _build(
    data: dict[str, Any],
    kind: Kind,
    base_dir: Path,
    source: str,
    lines: LineMap | None,
    overrides: Sequence[str],
    *,
    what: str,
) -> Spec:
    if kind not in SPEC_CLASSES:
        raise ValueError(f"kind is {kind!r}; it must be one of {', '.join(SPEC_CLASSES)}.")
    cls = SPEC_CLASSES[kind]
    data, overridden, problems = merge_overrides(data, overrides)
    locator = Locator(source, lines, overridden=overridden)
    if "$schema" in data:
        schema_problem = _check_schema(data.pop("$schema"), kind)
        if schema_problem is not None:
            problems.append(locator.problem(("$schema",), schema_problem))
    moved: dict[KeyPath, KeyPath] = {}
    if kind == "batch_deployment":
        data, moved, conflicts = normalise_deployment(data)
        problems.extend(locator.problem(path, f"{dotted_path(path)} {message}") for path, message in conflicts)
    locator = Locator(source, lines, moved, overridden)
    spec: ResourceSpec | None = None
    try:
        spec = cls.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as error:
        problems.extend(problems_from(error, cls, locator))
    if problems or spec is None:
        raise SpecError(sort_problems(problems), what=what, fix=_fix(problems, source, what))
    return cast(Spec, spec)


def _check_schema(url: Any, kind: Kind) -> str | None:
    if not isinstance(url, str):
        return f"$schema is {show(url)}; it must be the URL of a schema, or be left out."
    name = url.rstrip("/").rsplit("/", 1)[-1].lower().removesuffix(".json").removesuffix(".schema")
    if name not in _SCHEMAS or _SCHEMAS[name] == kind:
        return None
    named = _SCHEMAS[name]
    other = _a(_LABELS[named]) if named is not None else f"an Azure {name} file"
    return (
        f"$schema is '{url}', which describes {other}, but this command reads {_a(_LABELS[kind])}; "
        "check that this is the right file (or remove the $schema line)."
    )


def _a(label: str) -> str:
    return f"an {label}" if label[0] in "aeiou" else f"a {label}"


def _fix(problems: Sequence[Problem], source: str, what: str) -> str:
    if problems and all(problem.source == OVERRIDE_SOURCE for problem in problems):
        return "Correct the --set values above and run the command again."
    if source.startswith("<"):
        return "Correct the values above and run the command again."
    return f"Correct the keys above in {what} and run the command again."
