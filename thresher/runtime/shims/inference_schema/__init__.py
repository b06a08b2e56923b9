"""Shim of the ``inference-schema`` package: ``@input_schema`` / ``@output_schema`` and their parameter types.

Azure scoring scripts import these unchanged::

    from inference_schema.schema_decorators import input_schema, output_schema
    from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType

The decorators only record what they were given; converting a request's JSON to the types and
describing the types in the Swagger document is done by ``thresher.runtime.online_schema`` and
``thresher.runtime.online_swagger``, imported when first used (a worker always has thresher on its
PYTHONPATH, right after the shims).
"""
