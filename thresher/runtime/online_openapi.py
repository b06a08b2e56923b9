"""The Swagger / OpenAPI document of a no-code MLflow deployment, built from the model's signature.

As Azure's generated MLflow scoring script publishes it: one operation, ``POST /score``, whose body is
``{"input_data": ..., "params": ...}``. ``input_data`` is a split DataFrame for a column signature (its
``columns`` listed, each row's values described in order), nested arrays for a tensor, an object of
named tensors for several; ``params`` follows the params schema. Version "2" is Swagger 2.0, anything
else OpenAPI 3.0.
"""

from __future__ import annotations

from typing import Any

from thresher.runtime.signature import InputSignature

_JSON_TYPES: dict[str, dict[str, Any]] = {
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer", "format": "int32"},
    "long": {"type": "integer", "format": "int64"},
    "float": {"type": "number", "format": "float"},
    "double": {"type": "number", "format": "double"},
    "string": {"type": "string"},
    "binary": {"type": "string", "format": "byte"},
    "datetime": {"type": "string", "format": "date-time"},
}
_TENSOR_TYPES = {"bool": "boolean", "float16": "float", "float32": "float", "float64": "double", "str": "string"}


def document(
    name: str,
    version: str,
    signature: InputSignature,
    outputs: list[dict[str, Any]],
    param_specs: list[dict[str, Any]] | None,
    example: Any,
) -> dict[str, Any]:
    """The document for ``/score``; ``example`` (input_data as sent) is shown as the request's example."""
    body: dict[str, Any] = {
        "type": "object",
        "required": ["input_data"],
        "properties": {"input_data": _input(signature)},
    }
    if param_specs:
        body["properties"]["params"] = {
            "type": "object",
            "properties": {str(spec["name"]): _param(spec) for spec in param_specs},
        }
    if example is not None:
        body["example"] = {"input_data": example}
    schemas = {"ServiceInput": body, "ServiceOutput": _output(outputs), "ErrorResponse": _ERROR}
    info = {"title": name, "description": f"API of the MLflow model {name}", "version": "1.0"}
    if version == "2":
        operation = {
            "operationId": "RunMLService",
            "consumes": ["application/json"],
            "produces": ["application/json"],
            "parameters": [
                {"name": "Inputs", "in": "body", "required": True, "schema": _ref("definitions", "ServiceInput")}
            ],
            "responses": _responses("definitions", None),
        }
        return {"swagger": "2.0", "info": info, "paths": {"/score": {"post": operation}}, "definitions": schemas}
    operation = {
        "operationId": "RunMLService",
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("components/schemas", "ServiceInput")}},
        },
        "responses": _responses("components/schemas", "application/json"),
    }
    return {
        "openapi": "3.0.1",
        "info": info,
        "paths": {"/score": {"post": operation}},
        "components": {"schemas": schemas},
    }


_ERROR = {"type": "object", "properties": {"message": {"type": "string"}}}


def _ref(where: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/{where}/{name}"}


def _responses(where: str, media: str | None) -> dict[str, Any]:
    def answer(description: str, schema: str) -> dict[str, Any]:
        if media is None:
            return {"description": description, "schema": _ref(where, schema)}
        return {"description": description, "content": {media: {"schema": _ref(where, schema)}}}

    return {
        "200": answer("The predictions", "ServiceOutput"),
        "400": answer("The body cannot be read or does not fit the signature", "ErrorResponse"),
        "424": answer("The model's predict() failed", "ErrorResponse"),
    }


def _input(signature: InputSignature) -> dict[str, Any]:
    if not signature.inputs:
        return {"description": "Any input: the model has no signature."}
    if signature.tensors:
        if signature.tensor is not None:
            return _tensor(signature.tensor)
        return {
            "type": "object",
            "required": [str(s["name"]) for s in signature.tensors if s.get("required", True)],
            "properties": {str(spec["name"]): _tensor(spec) for spec in signature.tensors},
        }
    columns = [
        str(spec.get("name") if spec.get("name") is not None else position)
        for position, spec in enumerate(signature.columns)
    ]
    order = ", ".join(f"{column} ({spec.get('type')})" for column, spec in zip(columns, signature.columns))
    columns_schema: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
    if signature.named:
        columns_schema["example"] = columns
    return {
        "type": "object",
        "description": "A DataFrame in split orient.",
        "required": ["data"],
        "properties": {
            "columns": columns_schema,
            "index": {"type": "array", "items": {"type": "integer", "format": "int64"}},
            "data": {
                "type": "array",
                "description": f"One list of values per row, in the order of the columns: {order}.",
                "items": {"type": "array", "items": {}},
            },
        },
    }


def _tensor(spec: dict[str, Any]) -> dict[str, Any]:
    tensor = spec.get("tensor-spec") or {}
    dtype = str(tensor.get("dtype"))
    leaf = dict(_JSON_TYPES.get(_TENSOR_TYPES.get(dtype, "long" if "int" in dtype else "string"), {}))
    schema: dict[str, Any] = leaf
    for dimension in reversed([int(d) for d in tensor.get("shape") or [-1]]):
        schema = {"type": "array", "items": schema}
        if dimension >= 0:
            schema["minItems"] = schema["maxItems"] = dimension
    schema["description"] = f"A tensor of {dtype}, shape {tensor.get('shape')} (-1: any size)."
    return schema


def _param(spec: dict[str, Any]) -> dict[str, Any]:
    schema = dict(_JSON_TYPES.get(str(spec.get("type")), {}))
    if spec.get("shape") is not None:
        schema = {"type": "array", "items": schema}
    if spec.get("default") is not None:
        schema["default"] = spec["default"]
    return schema


def _output(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    if not outputs:
        return {"description": "The model's predictions (the model has no output signature)."}
    if all(spec.get("type") == "tensor" for spec in outputs):
        return _tensor(outputs[0]) if len(outputs) == 1 else {"type": "object"}
    if len(outputs) == 1 and outputs[0].get("name") is None:
        return {"type": "array", "items": _JSON_TYPES.get(str(outputs[0].get("type")), {})}
    properties = {str(spec.get("name")): _JSON_TYPES.get(str(spec.get("type")), {}) for spec in outputs}
    return {
        "type": "array",
        "description": "One record per row.",
        "items": {"type": "object", "properties": properties},
    }
