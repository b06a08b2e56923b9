"""``azureml.pipeline.steps.PythonScriptStep``: run a Python script of a source folder, as a thresher
command step: ``python <script_name> <arguments>`` in a copy of the folder, in the runconfig's environment::

    step = PythonScriptStep(
        script_name="prepare.py", source_directory="./dataprep_src",
        arguments=["--input", raw.as_download(), "--output", prepared, "--round-to", round_to],
        compute_target=compute_target, runconfig=run_config, allow_reuse=True,
    )

Arguments are passed as the script gets them on Azure: data inputs and outputs as local paths,
``PipelineParameter`` objects as their values, everything else as ``str(value)``. ``params`` become
``AML_PARAMETER_<name>`` environment variables.
"""

from __future__ import annotations

from typing import Any

from ..core.step import PipelineStep

__all__ = ["PythonScriptStep"]


class PythonScriptStep(PipelineStep):
    """A step that runs one Python script (its folder is snapshotted when the pipeline is submitted)."""

    def __init__(
        self,
        script_name: str,
        name: str | None = None,
        arguments: list[Any] | None = None,
        compute_target: Any = None,
        runconfig: Any = None,
        runconfig_pipeline_params: dict[str, Any] | None = None,
        inputs: list[Any] | None = None,
        outputs: list[Any] | None = None,
        params: dict[str, Any] | None = None,
        source_directory: str | None = None,
        allow_reuse: bool = True,
        version: str | None = None,
        hash_paths: list[str] | None = None,
    ) -> None:
        if not script_name:
            raise ValueError("script_name is required: the script to run, relative to source_directory.")
        super().__init__(name or script_name, inputs, outputs, arguments, allow_reuse)
        self.script_name = script_name
        self.source_directory = source_directory
        self.compute_target = compute_target
        self.runconfig = runconfig
        self.runconfig_pipeline_params = dict(runconfig_pipeline_params or {})
        self.params = dict(params or {})
        self.version = version
        self.hash_paths = list(hash_paths or [])  # deprecated by Azure: the whole source_directory is hashed
