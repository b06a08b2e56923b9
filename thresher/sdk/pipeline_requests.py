"""The body of Azure's published-pipeline REST call, read into a ``PipelineRequest``, every problem at once.

``POST .../PipelineRuns/PipelineSubmit/<id>`` and ``POST .../pipelineendpoints/<name>`` take::

    {"ExperimentName": "nightly",
     "ParameterAssignments": {"round_to": 2},
     "DataPathAssignments": {"raw_data": {"DataStoreName": "workspaceblobstore", "RelativePath": "raw/2026-11"}},
     "DataSetDefinitionValueAssignments": {"raw_data": {"SavedDataSetReference": {"Id": "diabetes-raw:3"}}},
     "PipelineVersion": "2"}

Keys are matched without regard to case (Azure's service does so too); ``Description``, ``Tags``,
``RunSource`` and ``DisplayName`` are accepted. A data input is bound to ``azureml://datastores/<store>/paths/<path>``
(a data path) or to a registered data asset (a saved data set, by ``name:version``, ``name`` for its latest
version, or ``azureml:name:version``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from thresher.errors import Problem, SpecError

EXPERIMENT = "ExperimentName"
PARAMETERS = "ParameterAssignments"
DATA_PATHS = "DataPathAssignments"
DATA_SETS = "DataSetDefinitionValueAssignments"
VERSION = "PipelineVersion"
KEYS = (EXPERIMENT, PARAMETERS, DATA_PATHS, DATA_SETS, VERSION, "Description", "Tags", "RunSource", "DisplayName")
SOURCE = "<request body>"

InputKind = Literal["literal", "data"]


@dataclass(frozen=True)
class PipelineRequest:
    """A published pipeline's invocation: the experiment, literal inputs, data inputs (as ``azureml:`` URIs)."""

    experiment_name: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, str] = field(default_factory=dict)  # input -> azureml://datastores/... | azureml:name:version
    version: str | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


def read_request(
    body: Any,
    inputs: Mapping[str, InputKind],
    *,
    what: str,
    resolve_dataset: Callable[[str], str],
    allow_version: bool,
) -> PipelineRequest:
    """``body`` checked against the pipeline's ``inputs`` (name -> literal | data); SpecError listing every
    problem. ``resolve_dataset`` turns a SavedDataSetReference Id into ``azureml:name:version`` (LookupError
    when there is no such data asset)."""
    problems: list[Problem] = []

    def problem(path: str, message: str) -> None:
        problems.append(Problem(SOURCE, None, path, message))

    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        problem("", f"is {type(body).__name__} {body!r}; the body is a JSON object such as {{{EXPERIMENT!r}: ...}}.")
        raise _error(problems, what, inputs)
    given: dict[str, Any] = {}
    canonical = {key.lower(): key for key in KEYS}
    for key, value in body.items():
        known = canonical.get(str(key).lower())
        if known is None or (known == VERSION and not allow_version):
            allowed = [k for k in KEYS if allow_version or k != VERSION]
            hint = " (PipelineVersion is for pipeline endpoints)" if known == VERSION else ""
            problem(str(key), f"is not a key of the request{hint}; the keys are {', '.join(allowed)}.")
            continue
        given[known] = value

    experiment = given.get(EXPERIMENT)
    if experiment is not None and (not isinstance(experiment, str) or not experiment.strip()):
        problem(EXPERIMENT, f"is {experiment!r}; give the experiment's name as text.")
        experiment = None
    version = given.get(VERSION)
    if version is not None and not isinstance(version, str | int):
        problem(VERSION, f'is {version!r}; give a version such as "2".')
        version = None

    def assignments(key: str) -> Mapping[str, Any]:
        value = given.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            problem(key, f"is {value!r}; it is an object of input name -> value.")
            return {}
        return value

    def check_name(key: str, name: str, kind: InputKind) -> bool:
        found = inputs.get(name)
        if found is None:
            listed = ", ".join(f"{n} ({k})" for n, k in inputs.items()) or "none"
            problem(f"{key}.{name}", f"names no input of the pipeline; its inputs are: {listed}.")
            return False
        if found != kind:
            where = PARAMETERS if found == "literal" else f"{DATA_PATHS} or {DATA_SETS}"
            problem(f"{key}.{name}", f"is a {found} input of the pipeline; assign it in {where}.")
            return False
        return True

    parameters: dict[str, Any] = {}
    for name, value in assignments(PARAMETERS).items():
        if not check_name(PARAMETERS, name, "literal"):
            continue
        if value is not None and not isinstance(value, str | int | float | bool):
            problem(f"{PARAMETERS}.{name}", f"is {value!r}; a parameter is a string, number or boolean.")
            continue
        parameters[name] = value

    data: dict[str, str] = {}
    for name, value in assignments(DATA_PATHS).items():
        if not check_name(DATA_PATHS, name, "data"):
            continue
        store = value.get("DataStoreName") if isinstance(value, Mapping) else None
        relative = value.get("RelativePath") if isinstance(value, Mapping) else None
        if not isinstance(store, str) or not store or not isinstance(relative, str):
            problem(
                f"{DATA_PATHS}.{name}",
                f'is {value!r}; give {{"DataStoreName": <datastore>, "RelativePath": <path in it>}}.',
            )
            continue
        data[name] = f"azureml://datastores/{store}/paths/{relative.lstrip('/')}"
    for name, value in assignments(DATA_SETS).items():
        if not check_name(DATA_SETS, name, "data"):
            continue
        if name in data:
            problem(f"{DATA_SETS}.{name}", f"is assigned in {DATA_PATHS} too; assign each input once.")
            continue
        reference = value.get("SavedDataSetReference") if isinstance(value, Mapping) else None
        identifier = reference.get("Id") if isinstance(reference, Mapping) else None
        if not isinstance(identifier, str) or not identifier:
            problem(
                f"{DATA_SETS}.{name}",
                f'is {value!r}; give {{"SavedDataSetReference": {{"Id": "<data asset name>:<version>"}}}}.',
            )
            continue
        try:
            data[name] = resolve_dataset(identifier)
        except LookupError as exc:
            problem(f"{DATA_SETS}.{name}.SavedDataSetReference.Id", f"is {identifier!r}: {exc}")

    tags = given.get("Tags") or {}
    if not isinstance(tags, Mapping):
        problem("Tags", f"is {tags!r}; give an object of tag -> value.")
        tags = {}
    description = given.get("Description")
    if problems:
        raise _error(problems, what, inputs)
    return PipelineRequest(
        experiment_name=experiment.strip() if isinstance(experiment, str) else None,
        parameters=parameters,
        data=data,
        version=str(version) if version is not None else None,
        description=str(description) if description is not None else None,
        tags={str(k): str(v) for k, v in tags.items()},
    )


def _error(problems: list[Problem], what: str, inputs: Mapping[str, InputKind]) -> SpecError:
    literal = [n for n, k in inputs.items() if k == "literal"]
    data = [n for n, k in inputs.items() if k == "data"]
    return SpecError(
        problems,
        what=f"request to {what}",
        fix=f"Correct the body and send it again; nothing was run. {PARAMETERS} takes "
        f"{', '.join(literal) or 'no input'}; {DATA_PATHS} and {DATA_SETS} take {', '.join(data) or 'no input'}.",
    )
