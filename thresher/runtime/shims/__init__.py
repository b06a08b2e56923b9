"""Compatibility shims for Azure ML scoring scripts, first on every worker's PYTHONPATH.

``azureml_user.parallel_run.EntryScript`` and ``azureml.core.Model`` / ``azureml.core.Run`` are what
Azure's batch scoring scripts import; these are offline stand-ins that write nothing remote. They use
only the standard library and never import thresher (they run as top-level packages).
"""
