"""Shim of ``azureml-inference-server-http``: the request and response objects of ``@rawhttp`` scripts
(``azureml_inference_server_http.api.aml_request`` / ``.aml_response``). ``azureml.contrib.services``
re-exports the same classes under Azure's older import path.
"""
