"""Azure's batch endpoint invocation body, read into thresher's invoke arguments.

Azure's REST call (``POST .../jobs`` on a batch endpoint's scoring URI) sends::

    {"properties": {"InputData": {"heart_dataset": {"JobInputType": "UriFolder", "Uri": "azureml://..."}},
                    "OutputData": {"score": {"JobOutputType": "UriFile", "Uri": "azureml://.../out.csv"}}}}

One input is the job's ``input``; several bind a pipeline deployment's inputs by name. A ``UriFile``
output names the output folder and file; a ``UriFolder`` output names the folder.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from thresher.errors import Problem, SpecError

_INPUT_TYPES = {"urifolder": "uri_folder", "urifile": "uri_file", "literal": "literal", "mltable": "mltable"}


def azure_invocation(properties: Mapping[str, Any], form: Mapping[str, Any]) -> dict[str, Any]:
    """The invoke arguments ``properties`` sets (``form`` holds the simple form's, kept unless set here)."""
    problems: list[Problem] = []
    result: dict[str, Any] = {"overrides": list(form.get("overrides") or [])}
    inputs = properties.get("InputData") or properties.get("inputData") or {}
    outputs = properties.get("OutputData") or properties.get("outputData") or {}
    if not isinstance(inputs, Mapping) or not isinstance(outputs, Mapping):
        problems.append(_problem("properties", "InputData and OutputData must be objects keyed by name."))
        inputs, outputs = {}, {}
    bound: dict[str, tuple[str, str]] = {}
    for name, value in inputs.items():
        uri, kind = _binding(value, "JobInputType", f"properties.InputData.{name}", problems)
        if uri is not None:
            bound[str(name)] = (uri, kind)
    if len(bound) == 1:
        (uri, kind) = next(iter(bound.values()))
        result["input"], result["input_type"] = uri, kind if kind != "literal" else None
    else:
        for name, (uri, kind) in bound.items():
            field = "value" if kind == "literal" else "path"
            result["overrides"].append(f"inputs.{name}.{field}={uri}")
    for name, value in outputs.items():
        uri, kind = _binding(value, "JobOutputType", f"properties.OutputData.{name}", problems)
        if uri is None:
            continue
        if kind == "uri_file":
            folder, file_name = posixpath.split(uri.rstrip("/"))
            result["output_path"] = folder
            result["overrides"].append(f"output_file_name={file_name}")
        else:
            result["output_path"] = uri
    if problems:
        raise SpecError(
            problems,
            what="invocation body",
            fix="See Azure's batch endpoint REST body: properties.InputData.<name>.{JobInputType, Uri}.",
        )
    return result


def _binding(value: Any, type_key: str, where: str, problems: list[Problem]) -> tuple[str | None, str]:
    if not isinstance(value, Mapping):
        problems.append(_problem(where, "must be an object with JobInputType and Uri."))
        return None, ""
    uri = value.get("Uri", value.get("uri", value.get("Value", value.get("value"))))
    kind_name = str(value.get(type_key, value.get(type_key[0].lower() + type_key[1:], "UriFolder")))
    kind = _INPUT_TYPES.get(kind_name.lower())
    if kind is None:
        problems.append(_problem(where, f"{type_key} is {kind_name!r}; it must be one of UriFolder, UriFile, Literal."))
        return None, ""
    if not isinstance(uri, (str, int, float)) or isinstance(uri, bool) or str(uri) == "":
        problems.append(_problem(where, "has no Uri (or Value for a Literal)."))
        return None, ""
    return str(uri), kind


def _problem(path: str, message: str) -> Problem:
    return Problem("<request>", None, path, message)
