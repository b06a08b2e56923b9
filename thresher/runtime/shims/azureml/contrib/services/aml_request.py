"""``from azureml.contrib.services.aml_request import AMLRequest, rawhttp`` (Azure's older import path)."""

from __future__ import annotations

from importlib import import_module

from . import sibling

_home = import_module(sibling(__name__, "azureml_inference_server_http.api.aml_request"))
AMLRequest = _home.AMLRequest
rawhttp = _home.rawhttp

__all__ = ["AMLRequest", "rawhttp"]
