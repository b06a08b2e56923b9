"""The Python SDK: ``Workspace`` and its resource operations."""

from thresher.sdk.documents import asset_document, deployment_document, online_endpoint_document, resource_document
from thresher.sdk.workspace import Workspace

__all__ = ["Workspace", "asset_document", "deployment_document", "online_endpoint_document", "resource_document"]
