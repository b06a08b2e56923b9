"""``azureml_inference_server_http.api``: ``AMLRequest``, ``rawhttp`` and ``AMLResponse``."""
