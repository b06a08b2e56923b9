"""Records as the documents that ``show`` and ``list`` print (Azure's field names where they exist)."""

from __future__ import annotations

from typing import Any

from thresher.store import AssetRecord, DeploymentRecord, ResourceRecord


def asset_document(record: AssetRecord) -> dict[str, Any]:
    """A model, environment or data version as ``az ml <kind> show`` shapes it, plus what thresher recorded."""
    document: dict[str, Any] = {
        "id": f"azureml:{record.name}:{record.version}",
        "name": record.name,
        "version": record.version,
    }
    document.update({k: v for k, v in record.spec.items() if k not in ("name", "version")})
    info = dict(record.info)
    if "path" in info:
        document["path"] = info.pop("path")
    mlflow = info.pop("mlflow", None)
    if mlflow is not None:
        document["flavors"] = mlflow.get("flavors")
        document["signature"] = mlflow.get("signature")
        document["mlflow"] = {k: v for k, v in mlflow.items() if k not in ("flavors", "signature")}
    document.update(info)
    document["archived"] = record.archived
    document["creation_context"] = {"created_at": record.created_at.isoformat()}
    return document


def resource_document(record: ResourceRecord, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A datastore, compute or endpoint."""
    document: dict[str, Any] = {"id": f"azureml:{record.name}", "name": record.name}
    document.update({k: v for k, v in record.spec.items() if k != "name"})
    document.update(extra or {})
    document["provisioning_state"] = "Succeeded"
    document["creation_context"] = {
        "created_at": record.created_at.isoformat(),
        "last_modified_at": record.updated_at.isoformat(),
    }
    return document


def online_endpoint_document(record: ResourceRecord, scoring_uri: str | None = None) -> dict[str, Any]:
    """An online endpoint as ``az ml online-endpoint show`` shapes it (never its keys): ``scoring_uri`` is
    where it is served, once a serving process serves it."""
    document = resource_document(record)
    document.setdefault("traffic", {})
    document.setdefault("mirror_traffic", {})
    document["scoring_uri"] = scoring_uri
    return document


def deployment_document(record: DeploymentRecord) -> dict[str, Any]:
    """A batch or online deployment."""
    document: dict[str, Any] = {"name": record.name, "endpoint_name": record.endpoint_name}
    document.update({k: v for k, v in record.spec.items() if k not in ("name", "endpoint_name")})
    document["provisioning_state"] = "Succeeded"
    document["creation_context"] = {
        "created_at": record.created_at.isoformat(),
        "last_modified_at": record.updated_at.isoformat(),
    }
    return document
