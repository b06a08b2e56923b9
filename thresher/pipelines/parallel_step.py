"""A ``parallel`` step as a batch job of the existing engine: its JobSpec from the step's task, its
``input_data`` and its outputs (one node in the pipeline's graph, never one node per mini-batch)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from thresher.pipelines.command_step import render
from thresher.pipelines.model import Step
from thresher.scheduler.jobspec import JobInput, JobSpec
from thresher.specs import BatchSettings
from thresher.storage.mltable import MLTABLE, read_mltable


def batch_spec(
    step: Step,
    folder: Path,
    inputs: Mapping[str, str | None],
    outputs: Mapping[str, str],
    *,
    default_python: str | None = None,
) -> JobSpec:
    """The batch job that runs ``step``: mini-batches of its ``input_data``, rows to ``append_row_to``."""
    task = step.parallel
    assert task is not None
    data = step.inputs[task.input_data]
    path = inputs[task.input_data]
    if path is None:
        raise ValueError(f"input_data {task.input_data} of step {step.name} is not given")
    kind = (
        data.type if data.type in ("uri_file", "uri_folder") else ("uri_file" if Path(path).is_file() else "uri_folder")
    )
    output_name = task.append_row_to or next(iter(step.outputs), None)
    output_dir = Path(outputs[output_name]) if output_name else folder / "outputs" / "score"
    output_uri = None
    if "://" in str(outputs.get(output_name or "", "")):  # in object storage: written here, published there
        output_uri, output_dir = str(outputs[output_name or ""]), folder / "outputs" / str(output_name)
    arguments = render(task.program_arguments, inputs, outputs) if task.program_arguments else None
    settings = BatchSettings.model_validate(
        {
            "mini_batch_size": task.mini_batch_size,
            "max_concurrency_per_instance": task.max_concurrency_per_instance,
            "error_threshold": task.error_threshold,
            "allowed_failed_count": task.mini_batch_error_threshold,
            "logging_level": task.logging_level,
            "retry_settings": {"max_retries": task.max_retries, "timeout": task.timeout},
            "output_action": task.output_action,
            "output_file_name": task.output_file_name if task.output_action == "append_row" else None,
            "environment_variables": dict(step.environment_variables),
            "program_arguments": arguments,
            "partition_keys": list(task.partition_keys) if task.partition_keys else None,
        }
    )
    model_dir = next(
        (
            inputs[name]
            for name, b in step.inputs.items()
            if b.type in ("mlflow_model", "custom_model") and inputs.get(name)
        ),
        None,
    )
    code = Path(step.code) if step.code else None
    return JobSpec(
        input=_job_input(path, kind, data.type),
        settings=settings,
        nodes=task.instance_count,
        folder=str(folder),
        output_dir=str(output_dir),
        output_file=str(output_dir / settings.output_file_name) if settings.output_file_name else None,
        script=str(code / task.entry_script) if code else task.entry_script,
        code_dir=str(code) if code else None,
        model_dir=model_dir,
        environment=step.environment,
        python=default_python,
        output_uri=output_uri,
        backend=str(step.placement.get("backend") or "local"),
        address=step.placement.get("address"),
        compute=step.placement.get("compute"),
        min_nodes=int(step.placement.get("min_nodes") or 0),
        idle_time_before_scale_down=step.placement.get("idle_time_before_scale_down"),
        min_instances=int(step.placement.get("min_instances") or 0),
    )


def _job_input(path: str, kind: str, declared: str | None) -> JobInput:
    """The batch job's input: files, or for a folder with an ``MLTable`` file (an ``mltable`` input, also one
    an upstream step wrote) the tables it declares, read as DataFrames."""
    local = Path(path)
    if "://" not in path and local.is_dir() and (local / MLTABLE).is_file():
        fmt, options = read_mltable(local / MLTABLE)
        return JobInput(uri=path, path=path, type="mltable", tabular=True, format=fmt, read_options=options)
    if declared == "mltable" and "://" not in path:
        raise ValueError(f"input {path} is an mltable, but it has no {MLTABLE} file; add one that says its format")
    return JobInput(uri=path, path=path, type=kind, remote="://" in path)
