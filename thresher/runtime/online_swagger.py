"""The Swagger / OpenAPI document of a scoring script, from its ``@input_schema`` / ``@output_schema`` samples.

``GET /swagger.json?version=2|3|3.1`` (2 by default, as Azure). Each parameter type describes itself
as a JSON schema whose ``example`` is its sample in JSON form (``standard_schema``, ``numpy_schema``,
``pandas_schema``, called by the shim's types); ``document`` puts them in Azure's layout: a health
route ``/`` and the scoring route ``/score`` taking ``ServiceInput`` and answering ``ServiceOutput``
(``{"type": "object"}`` when ``run`` is undecorated). A ``swagger2.json`` / ``swagger3.json`` /
``swagger.json`` beside the script is served instead (``user_documents``). ``SERVICE_NAME``,
``SERVICE_VERSION`` and ``SERVICE_PATH_PREFIX`` fill the title, version and route prefix.
"""

from __future__ import annotations

import datetime
import json
import os
from typing import Any, Mapping

VERSIONS = ("2", "3", "3.1")
DEFAULT_VERSION = "2"
_OPENAPI = {"3": "3.0.1", "3.1": "3.1.0"}
_USER_FILES = {"2": ("swagger2.json", "swagger.json"), "3": ("swagger3.json", "swagger.json")}
_USER_FILES["3.1"] = _USER_FILES["3"]
_SCHEMA_KEYS = ("items", "additionalProperties")  # keywords whose value is one schema


def plain(value: Any) -> Any:
    """A sample value in JSON form: numpy values as lists and numbers, dates as ISO 8601 text."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if hasattr(value, "tolist") and type(value).__module__.split(".")[0] == "numpy":
        return plain(value.tolist())
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _value_schema(value: Any) -> dict[str, Any]:
    """The JSON schema of one plain value (parameter types nested in it describe themselves)."""
    if callable(getattr(value, "input_to_swagger", None)):
        return dict(value.input_to_swagger())
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer", "format": "int64"}
    if isinstance(value, float):
        return {"type": "number", "format": "double"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, datetime.datetime):
        return {"type": "string", "format": "date-time"}
    if isinstance(value, datetime.date):
        return {"type": "string", "format": "date"}
    if isinstance(value, datetime.time):
        return {"type": "string", "format": "time"}
    if isinstance(value, dict):
        properties = {str(k): _value_schema(v) for k, v in value.items()}
        return {"type": "object", "required": list(properties), "properties": properties}
    if isinstance(value, (list, tuple)):
        return {"type": "array", "items": _value_schema(value[0]) if value else {}}
    if type(value).__module__.split(".")[0] == "numpy" and hasattr(value, "tolist"):
        return _value_schema(value.tolist())
    return {}


def _example(value: Any) -> Any:
    if callable(getattr(value, "input_to_swagger", None)):
        return value.input_to_swagger().get("example")
    if isinstance(value, dict):
        return {str(k): _example(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_example(v) for v in value]
    return plain(value)


def standard_schema(ptype: Any) -> dict[str, Any]:
    """The schema of a ``StandardPythonParameterType``, inferred from its sample."""
    return {**_value_schema(ptype.sample_input), "example": _example(ptype.sample_input)}


def dtype_schema(dtype: Any, values: Any = ()) -> dict[str, Any]:
    """The JSON schema of one numpy/pandas dtype (object columns: from their first value)."""
    kind = getattr(dtype, "kind", "O")
    if getattr(dtype, "names", None):
        return {"type": "object", "properties": {name: dtype_schema(dtype.fields[name][0]) for name in dtype.names}}
    if kind == "b":
        return {"type": "boolean"}
    if kind in "iu":
        return {"type": "integer", "format": "int64" if dtype.itemsize >= 4 + (kind == "u") * 4 else "int32"}
    if kind == "f":
        return {"type": "number", "format": "double" if dtype.itemsize > 4 else "float"}
    if kind in "US":
        return {"type": "string"}
    if kind == "M":
        return {"type": "string", "format": "date-time"}
    if hasattr(dtype, "categories"):  # pandas categorical
        return dtype_schema(dtype.categories.dtype, list(dtype.categories))
    present = [v for v in values if v is not None and v == v]
    return _value_schema(present[0]) if present else {}


def numpy_schema(ptype: Any) -> dict[str, Any]:
    """Nested arrays down to the sample's dtype, with the sample as ``example``."""
    sample = ptype.sample_input
    schema = dtype_schema(sample.dtype, sample.reshape(-1)[:1].tolist() if sample.dtype.kind == "O" else ())
    for _ in range(sample.ndim):
        schema = {"type": "array", "items": schema}
    if sample.dtype.names:
        example = [dict(zip(sample.dtype.names, plain(list(row)))) for row in sample.tolist()]
    else:
        example = plain(sample.tolist())
    return {**schema, "example": example}


def pandas_schema(ptype: Any) -> dict[str, Any]:
    """The schema of the sample DataFrame in the ``orient`` layout, with the sample in it as ``example``."""
    sample, orient = ptype.sample_input, ptype.orient
    columns = {str(c): dtype_schema(sample[c].dtype, sample[c].head(10).tolist()) for c in sample.columns}
    row = {"type": "object", "required": list(columns), "properties": columns}
    cell: dict[str, Any] = {}
    layouts: dict[str, dict[str, Any]] = {
        "records": {"type": "array", "items": row},
        "table": {
            "type": "object",
            "properties": {"schema": {"type": "object"}, "data": {"type": "array", "items": row}},
        },
        "values": {"type": "array", "items": {"type": "array", "items": cell}},
        "index": {"type": "object", "additionalProperties": row},
        "columns": {
            "type": "object",
            "properties": {
                name: {"type": "object", "additionalProperties": schema} for name, schema in columns.items()
            },
        },
        "split": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "index": {"type": "array", "items": {}},
                "data": {"type": "array", "items": {"type": "array", "items": cell}},
            },
        },
    }
    example = json.loads(sample.to_json(orient=orient, date_format="iso"))
    return {**layouts[orient], "example": example}


def service_input(parameters: list[tuple[str, Any, bool]]) -> dict[str, Any]:
    """``ServiceInput`` of a decorated ``run``: an object keyed by its (name, type, required) parameters."""
    properties = {name: dict(ptype.input_to_swagger()) for name, ptype, _ in parameters}
    example = {name: schema.get("example") for name, schema in properties.items()}
    required = [name for name, _, needed in parameters if needed]
    return {"type": "object", "required": required, "properties": properties, "example": example}


def user_documents(folder: str) -> dict[str, dict[str, Any]]:
    """The Swagger documents a user put beside the script, by version; ``ValueError`` for one that is not JSON."""
    found: dict[str, dict[str, Any]] = {}
    for version, names in _USER_FILES.items():
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                try:
                    with open(path, encoding="utf-8") as handle:
                        found[version] = json.load(handle)
                except ValueError as exc:
                    raise ValueError(
                        f"{path} is not a JSON document ({exc}); fix it, or remove it to have the Swagger "
                        "document generated from run()'s decorators."
                    ) from None
                break
    return found


def check_version(version: str) -> str:
    """``version`` when it is one of ``VERSIONS``; otherwise ``ValueError`` listing them."""
    if version not in VERSIONS:
        raise ValueError(f"Swagger version {version!r} is not supported; ask for one of {', '.join(VERSIONS)}.")
    return version


def document(
    version: str, inputs: dict[str, Any] | None, output: dict[str, Any] | None, environ: Mapping[str, str]
) -> dict[str, Any]:
    """The generated document: Swagger 2.0, or OpenAPI 3.0.1 / 3.1.0, with ``inputs`` / ``output`` as the
    ``ServiceInput`` / ``ServiceOutput`` schemas (``{"type": "object"}`` when None)."""
    version = check_version(version)
    title = environ.get("SERVICE_NAME", "ML service")
    info = {
        "title": title,
        "description": f"API specification for {title}",
        "version": environ.get("SERVICE_VERSION", "1.0"),
    }
    prefix = "/" + environ.get("SERVICE_PATH_PREFIX", "").strip("/")
    paths = (prefix, prefix.rstrip("/") + "/score")
    schemas = {
        "ServiceInput": inputs or {"type": "object"},
        "ServiceOutput": output or {"type": "object"},
        "ErrorResponse": {"type": "object", "properties": {"message": {"type": "string"}}},
    }
    if version == "2":
        return _swagger2(info, paths, schemas)
    if version == "3.1":
        schemas = {name: _examples_31(schema) for name, schema in schemas.items()}
    return _openapi3(_OPENAPI[version], info, paths, schemas)


_SECURITY = {"type": "apiKey", "name": "Authorization", "in": "header", "description": "For example: Bearer abc123"}
_FAILED = "The service failed to execute due to an error."


def _operations(health_ok: dict[str, Any], failed: dict[str, Any], score: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    health = {
        "operationId": "ServiceHealthCheck",
        "description": "Health check: answers Healthy while the service is up.",
        "responses": {"200": health_ok, "default": failed},
    }
    run = {
        "operationId": "RunMLService",
        "description": "Run the model and get its prediction.",
        "security": [{"Bearer": []}],
        **score,
    }
    return {"get": health}, {"post": run}


def _swagger2(info: dict[str, Any], paths: tuple[str, str], schemas: dict[str, Any]) -> dict[str, Any]:
    ref = "#/definitions/"
    failed = {"description": _FAILED, "schema": {"$ref": ref + "ErrorResponse"}}
    health_ok = {
        "description": "The service is up.",
        "schema": {"type": "string"},
        "examples": {"application/json": "Healthy"},
    }
    payload = {
        "name": "serviceInputPayload",
        "in": "body",
        "description": "The input payload.",
        "schema": {"$ref": ref + "ServiceInput"},
    }
    scored = {"description": "The prediction.", "schema": {"$ref": ref + "ServiceOutput"}}
    health, run = _operations(
        health_ok, failed, {"parameters": [payload], "responses": {"200": scored, "default": failed}}
    )
    return {
        "swagger": "2.0",
        "info": info,
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {"Bearer": _SECURITY},
        "paths": {paths[0]: health, paths[1]: run},
        "definitions": schemas,
    }


def _openapi3(openapi: str, info: dict[str, Any], paths: tuple[str, str], schemas: dict[str, Any]) -> dict[str, Any]:
    def content(name: str) -> dict[str, Any]:
        return {"application/json": {"schema": {"$ref": "#/components/schemas/" + name}}}

    failed = {"description": _FAILED, "content": content("ErrorResponse")}
    health_ok = {
        "description": "The service is up.",
        "content": {"text/plain": {"schema": {"type": "string"}, "example": "Healthy"}},
    }
    payload = {"description": "The input payload.", "required": True, "content": content("ServiceInput")}
    scored = {"description": "The prediction.", "content": content("ServiceOutput")}
    health, run = _operations(
        health_ok, failed, {"requestBody": payload, "responses": {"200": scored, "default": failed}}
    )
    return {
        "openapi": openapi,
        "info": info,
        "paths": {paths[0]: health, paths[1]: run},
        "components": {"securitySchemes": {"Bearer": _SECURITY}, "schemas": schemas},
    }


def _examples_31(schema: Any) -> Any:
    """A 3.0 schema in 3.1 words: ``example: x`` becomes ``examples: [x]`` (sample values left alone)."""
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if k != "example"}
    if "example" in schema:
        out["examples"] = [schema["example"]]
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {k: _examples_31(v) for k, v in schema["properties"].items()}
    for key in _SCHEMA_KEYS:
        if isinstance(schema.get(key), dict):
            out[key] = _examples_31(schema[key])
    return out
