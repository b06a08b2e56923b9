"""Compatibility shims for Azure ML scoring scripts, first on every worker's PYTHONPATH.

Batch: ``azureml_user.parallel_run.EntryScript`` and ``azureml.core.Model`` / ``azureml.core.Run``.
Online: ``inference_schema`` (``@input_schema`` / ``@output_schema`` and their parameter types),
``azureml_inference_server_http.api`` and ``azureml.contrib.services`` (``AMLRequest``, ``@rawhttp``,
``AMLResponse``). These are offline stand-ins that write nothing remote. They run as top-level
packages and use only the standard library at import; the ``inference_schema`` types import
``thresher.runtime.online_schema`` / ``online_swagger`` when first used (a worker's PYTHONPATH holds
thresher right after the shims), so converting and describing the types is written once.
"""
