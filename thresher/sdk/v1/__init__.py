"""Azure ML's v1 Python SDK (``azureml-core``, ``azureml-pipeline``) over a thresher workspace.

A v1 driver script (``Workspace.from_config()``, ``PythonScriptStep``, ``ParallelRunStep``,
``Experiment(ws, name).submit(pipeline)``) runs unchanged with ``thresher run driver.py``:

- ``azureml/`` is a shim of the ``azureml.*`` modules that such scripts import. It is never installed:
  ``launcher`` puts this folder first on ``sys.path`` of the one process that runs the driver, and
  each command step gets it on its ``PYTHONPATH`` (so ``Run.get_context()`` works inside a step).
- The shim builds the one pipeline model (``thresher.pipelines.model.PipelineDef``) and queues it as a
  pipeline job, exactly as ``thresher job create -f pipeline.yml`` does for v2 YAML.

Every shim module imports only the standard library at its top and runs on Python 3.8 (steps run in
their environments' interpreters); what needs thresher lives in ``azureml/_thresher/`` and is imported
inside the functions that use it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["shim_dir"]


def shim_dir() -> Path:
    """The folder that holds the ``azureml`` shim package (what goes on ``sys.path``)."""
    return Path(__file__).resolve().parent
