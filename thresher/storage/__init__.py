"""Storage: datastores, content-addressed uploads, fingerprints, job folders, and stored model folders."""

from thresher.storage.datastore import LocalDatastore, StoredContent, split_datastore_uri
from thresher.storage.fingerprint import Fingerprint, content_hash, fingerprint, iter_files
from thresher.storage.job_folder import JobFolder
from thresher.storage.mlmodel import MlflowModelInfo, find_mlmodel, read_mlmodel
from thresher.storage.snapshot import load_ignore

__all__ = [
    "Fingerprint",
    "JobFolder",
    "LocalDatastore",
    "MlflowModelInfo",
    "StoredContent",
    "content_hash",
    "find_mlmodel",
    "fingerprint",
    "iter_files",
    "load_ignore",
    "read_mlmodel",
    "split_datastore_uri",
]
