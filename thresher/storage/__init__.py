"""Storage: datastores, content-addressed uploads, fingerprints, job folders, and stored model folders."""

from thresher.storage.backends import datastore_root
from thresher.storage.datastore import LocalDatastore, StoredContent, split_datastore_uri
from thresher.storage.fingerprint import Fingerprint, content_hash, fingerprint, iter_files
from thresher.storage.job_folder import JobFolder
from thresher.storage.mlmodel import MlflowModelInfo, find_mlmodel, read_mlmodel
from thresher.storage.probe import check_datastore
from thresher.storage.remote import RemoteURL, is_remote, parse_url
from thresher.storage.retry import Fault, classify, retrying
from thresher.storage.snapshot import load_ignore

__all__ = [
    "Fault",
    "Fingerprint",
    "JobFolder",
    "LocalDatastore",
    "MlflowModelInfo",
    "RemoteURL",
    "StoredContent",
    "check_datastore",
    "classify",
    "content_hash",
    "datastore_root",
    "find_mlmodel",
    "fingerprint",
    "is_remote",
    "iter_files",
    "load_ignore",
    "parse_url",
    "read_mlmodel",
    "retrying",
    "split_datastore_uri",
]
