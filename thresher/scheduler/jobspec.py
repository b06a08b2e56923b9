"""What a batch job runs, resolved and checked at invoke time, stored on the job row as plain data.

Everything is resolved before the job is queued (model folder, code snapshot, input path, output
location, settings with overrides), so a runner needs nothing but this document and the files it
names, and a resumed job runs exactly what the first attempt ran. The settings stay typed
(``BatchSettings``): every default is stated once, in ``thresher.specs.batch_settings``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, is_dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from thresher.runtime.protocol import InputKind, JobBinding, OutputAction, OutputFormat, WorkerConfig, WorkerIdentity
from thresher.specs import BatchSettings
from thresher.storage import JobFolder

SPEC_VERSION = 3  # 1: settings were stored as a loose dict, output_format "mlflow" for no-code jobs;
# 2: no backend (every job ran on local workers, as the defaults of backend/address/compute/min_nodes say)


@dataclass(frozen=True)
class JobInput:
    """The one input of a batch job."""

    uri: str  # as the user gave it
    path: str  # the local file or folder it resolved to; for a remote input, the URI again
    type: str  # uri_folder | uri_file | mltable
    tabular: bool = False
    format: str | None = None
    read_options: dict[str, Any] = field(default_factory=dict)
    remote: bool = False  # in object storage: the runner resolves ``uri`` (with its datastore's secret)


@dataclass(frozen=True)
class JobSpec:
    """A batch scoring job, fully resolved."""

    input: JobInput
    settings: BatchSettings  # the deployment's settings with the invoke's overrides applied
    nodes: int
    folder: str  # the job folder (logs, work, default outputs)
    output_dir: str  # the `score` output folder
    output_file: str | None  # the append_row file; None for summary_only
    script: str | None  # None: the built-in MLflow driver (a no-code MLflow deployment)
    code_dir: str | None
    model_dir: str | None
    model: str | None = None  # azureml:name:version, for show
    environment: str | None = None  # azureml:name:version of the deployment's environment
    environment_files_dir: str | None = None  # a folder whose python_env/conda/requirements files define it
    python: str | None = None  # the workers' interpreter; None: the runner's own
    # An output in object storage (the URI as given): workers write to ``output_dir`` in the job folder,
    # and finalizing publishes its files there.
    output_uri: str | None = None
    backend: str = "local"  # the executor: local (this machine) or ray (a Ray cluster)
    address: str | None = None  # the Ray cluster's address (ray); None: a Ray of the runner's machine
    compute: str | None = None  # the compute's name, for messages
    min_nodes: int = 0  # nodes asked of Ray's autoscaler while the job runs (the compute's min_instances)
    # Warm compute: the compute's idle_time_before_scale_down (None: unset) and min_instances.
    idle_time_before_scale_down: int | None = None
    min_instances: int = 0

    @property
    def per_node(self) -> int:
        """Workers per node (``max_concurrency_per_instance``)."""
        return self.settings.max_concurrency_per_instance

    @property
    def workers(self) -> int:
        """Workers of the job in all."""
        return self.nodes * self.per_node

    @property
    def output_action(self) -> OutputAction:
        """``append_row`` or ``summary_only``."""
        return OutputAction(self.settings.output_action)

    @property
    def output_format(self) -> OutputFormat:
        """What the workers write: ``azure`` means Azure's MLflow driver format for a no-code job."""
        chosen = OutputFormat(self.settings.output_format)
        return OutputFormat.MLFLOW if self.script is None and chosen is OutputFormat.AZURE else chosen

    @cached_property
    def job_folder(self) -> JobFolder:
        """The job's folder layout (created if missing, once per JobSpec)."""
        return JobFolder.create(Path(self.folder), Path(self.output_dir))

    def to_dict(self) -> dict[str, Any]:
        """As plain data for the job row: ``asdict``, less its deep copy of the settings model, which is
        dumped instead (every invocation makes one)."""
        data = {f.name: None if f.name == "settings" else _plain(getattr(self, f.name)) for f in fields(self)}
        data["settings"] = self.settings.model_dump(mode="json")
        data["version"] = SPEC_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        """Back from the job row (rows written by older thresher versions included)."""
        fields = {k: v for k, v in data.items() if k not in ("version", "per_node")}
        fields["input"] = JobInput(**fields["input"])
        settings = dict(fields["settings"])
        if data.get("version", 1) < 2 and settings.get("output_format") == "mlflow":
            settings["output_format"] = "azure"  # version 1 stored the no-code format in the settings
        fields["settings"] = BatchSettings.model_validate(settings)
        return cls(**fields)

    def worker_config(self, job: str) -> WorkerConfig:
        """What each worker is told: what it is (identity) and which job it serves (binding)."""
        folder = self.job_folder
        settings = self.settings
        identity = WorkerIdentity(
            script=self.script,
            code_dir=self.code_dir,
            model_dir=self.model_dir,
            python=self.python,
            environment_variables=dict(settings.environment_variables),
            program_arguments=tuple(settings.arguments()),
            logging_level=settings.logging_level,
            input_kind=InputKind.TABULAR if self.input.tabular else InputKind.FILES,
            # Every worker of a local compute runs on this machine: each gets its share of the cores.
            threads=max(1, (os.cpu_count() or 1) // max(1, self.workers)),
        )
        binding = JobBinding(
            job=job,
            output_dir=self.output_dir,
            parts_dir=str(folder.parts),
            logs_dir=str(folder.logs),
            output_action=self.output_action,
            output_format=self.output_format,
        )
        return WorkerConfig(identity, binding)


def _plain(value: Any) -> Any:
    """``value`` with its dataclasses as dicts and its containers copied, as ``asdict`` makes them."""
    if is_dataclass(value) and not isinstance(value, type):
        return {item.name: _plain(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*[_plain(item) for item in value])
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(item) for item in value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value
