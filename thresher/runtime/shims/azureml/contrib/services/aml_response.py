"""``from azureml.contrib.services.aml_response import AMLResponse`` (Azure's older import path)."""

from __future__ import annotations

from importlib import import_module

from . import sibling

AMLResponse = import_module(sibling(__name__, "azureml_inference_server_http.api.aml_response")).AMLResponse

__all__ = ["AMLResponse"]
