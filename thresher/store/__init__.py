"""The metadata store: thresher's registry of assets, resources and deployments, in SQLite or PostgreSQL.

``open_store(settings.resolved_database_url)`` opens it (migrating the database if needed);
``MetadataStore`` in ``base.py`` documents every method.
"""

from thresher.store.base import MetadataStore
from thresher.store.job_records import TERMINAL, JobRecord, JobStatus, MiniBatchRecord
from thresher.store.online import EndpointKeysRecord, SealedKeys
from thresher.store.progress import FailedItem, JobProgress, PlanInfo, ResourceUsage, WorkerUsage
from thresher.store.records import AssetRecord, DeploymentRecord, ResourceRecord
from thresher.store.sql import SqlStore, open_store

__all__ = [
    "TERMINAL",
    "AssetRecord",
    "DeploymentRecord",
    "EndpointKeysRecord",
    "FailedItem",
    "JobProgress",
    "JobRecord",
    "JobStatus",
    "MetadataStore",
    "MiniBatchRecord",
    "PlanInfo",
    "ResourceRecord",
    "ResourceUsage",
    "SealedKeys",
    "SqlStore",
    "WorkerUsage",
    "open_store",
]
