"""``azureml.pipeline.steps``: ``PythonScriptStep`` (a command step) and ``ParallelRunStep`` with its
``ParallelRunConfig`` (a parallel step). The v1 SDK's other steps fail at their import, with what to use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import exports

if TYPE_CHECKING:
    from .parallel_run import ParallelRunConfig, ParallelRunStep
    from .python_script_step import PythonScriptStep

__all__ = ["ParallelRunConfig", "ParallelRunStep", "PythonScriptStep"]

_SCRIPT = "Run the work in a PythonScriptStep (a script in a source_directory) instead."

__getattr__ = exports(
    __name__,
    {
        "ParallelRunConfig": ".parallel_run",
        "ParallelRunStep": ".parallel_run",
        "PythonScriptStep": ".python_script_step",
    },
    {
        "AutoMLStep": "AutoML runs only on Azure. Train the model in a PythonScriptStep (scikit-learn, LightGBM, ...).",
        "AutoMLStepRun": "AutoML runs only on Azure.",
        "HyperDriveStep": "Hyperparameter sweeps run only on Azure. Loop over the values in a PythonScriptStep, or "
        "submit the pipeline once per value with pipeline_parameters.",
        "DatabricksStep": "Databricks runs only on Azure. " + _SCRIPT,
        "DataTransferStep": "Copy the data in a PythonScriptStep, or register a datastore where the data is "
        "(thresher datastore create) and read it there.",
        "AdlaStep": "Azure Data Lake Analytics runs only on Azure. " + _SCRIPT,
        "AzureBatchStep": "Azure Batch runs only on Azure. " + _SCRIPT,
        "KustoStep": "Kusto runs only on Azure. " + _SCRIPT,
        "SynapseSparkStep": "Synapse Spark runs only on Azure. " + _SCRIPT,
        "MpiStep": "MPI jobs are not available. " + _SCRIPT,
        "EstimatorStep": "Estimators are deprecated by Azure too. " + _SCRIPT,
        "ModuleStep": "Modules are not available. " + _SCRIPT,
        "CommandStep": "Use a PythonScriptStep, or a v2 pipeline YAML (thresher job create -f pipeline.yml).",
    },
)
