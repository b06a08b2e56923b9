"""The pipeline model: what a pipeline job runs, resolved at submission and stored as plain data.

Both front doors (v2 YAML, the v1 SDK) build a ``PipelineDef``; the runner reads it back from the job
row. Everything a step needs is resolved before anything runs: code is a stored snapshot, data inputs
are paths or assets with versions, environments are registered assets. A step's inputs are bound to a
literal, a data input or an output of another step (the only thing known only while the pipeline runs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SPEC_VERSION = 1

LITERAL_TYPES = ("string", "integer", "number", "boolean")
DATA_TYPES = ("uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model")
INPUT_TYPES = LITERAL_TYPES + DATA_TYPES
INPUT_MODES = ("ro_mount", "download", "direct", "rw_mount", "eval_mount", "eval_download")
OUTPUT_MODES = ("rw_mount", "upload", "direct")
STEP_TYPES = ("command", "parallel", "pipeline")

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
"""Step, input and output names: what Azure accepts in ``${{parent.jobs.<step>.outputs.<name>}}``."""
RESERVED_NAMES = frozenset({"parent", "jobs", "inputs", "outputs", "name", "self"})
"""Names that would read as part of a binding expression."""

BindingKind = Literal["literal", "data", "step_output"]
StepType = Literal["command", "parallel"]


@dataclass(frozen=True)
class Port:
    """A declared input or output of a component: its type and the rules for its value."""

    name: str
    type: str
    default: Any = None
    optional: bool = False
    min: float | None = None
    max: float | None = None
    enum: tuple[Any, ...] | None = None
    mode: str | None = None
    description: str | None = None

    @property
    def is_data(self) -> bool:
        """Whether the port carries files (a path at run time) rather than a literal value."""
        return self.type in DATA_TYPES


@dataclass(frozen=True)
class Binding:
    """What a step input is bound to.

    - ``literal``: ``value``;
    - ``data``: a file or folder, ``path`` (local, absolute) or ``uri`` (object storage), from ``asset``
      (``name:version``) when it came from a registered data asset or model; ``fingerprint`` "content"
      keys reuse on its bytes rather than on its identity;
    - ``step_output``: output ``output`` of step ``step``.
    """

    kind: BindingKind
    value: Any = None
    type: str | None = None
    path: str | None = None
    asset: str | None = None
    mode: str | None = None
    fingerprint: str | None = None  # None (identity) | "content"
    step: str | None = None
    output: str | None = None

    @classmethod
    def literal(cls, value: Any) -> Binding:
        """A literal value (string, number, boolean)."""
        return cls("literal", value=value)

    @classmethod
    def of_step(cls, step: str, output: str) -> Binding:
        """Output ``output`` of step ``step``."""
        return cls("step_output", step=step, output=output)

    def describe(self) -> str:
        """How the binding reads in messages and in ``job show``."""
        if self.kind == "literal":
            return repr(self.value)
        if self.kind == "step_output":
            return f"${{{{parent.jobs.{self.step}.outputs.{self.output}}}}}"
        return f"azureml:{self.asset}" if self.asset else str(self.path)


@dataclass(frozen=True)
class OutputSetting:
    """Where a step output goes: its own folder in the job (default), or ``path``; maybe registered."""

    name: str
    type: str = "uri_folder"
    mode: str = "rw_mount"
    path: str | None = None  # an explicit destination (a local path), with {run-id} already resolved at run time
    register_as: str | None = None  # a data asset registered from it when the step completes
    pipeline_output: str | None = None  # the pipeline output it is bound to


@dataclass(frozen=True)
class ParallelTask:
    """The batch engine's settings of a ``parallel`` step (Azure's fields, Azure's defaults)."""

    input_data: str  # the name of the input the mini-batches are cut from
    entry_script: str
    program_arguments: str | None = None
    mini_batch_size: str | int = 10
    mini_batch_error_threshold: int = -1
    error_threshold: int = -1
    instance_count: int = 1
    max_concurrency_per_instance: int = 1
    logging_level: str = "info"
    max_retries: int = 3
    timeout: int = 30
    append_row_to: str | None = None  # ${{outputs.<name>}}: the output that gets the rows
    output_file_name: str = "parallel_run_step.txt"
    partition_keys: tuple[str, ...] | None = None
    output_action: str = "append_row"


@dataclass(frozen=True)
class Step:
    """One step of a pipeline: a ``command`` (a process) or a ``parallel`` step (a batch job)."""

    name: str
    type: StepType
    component: str  # how the component was referred to, for show: "azureml:prep:1", "./prep.yml", "inline"
    command: str | None = None  # command steps: the command line, with ${{inputs.x}} placeholders
    code: str | None = None  # the stored code snapshot (a folder)
    code_hash: str | None = None
    code_files: Mapping[str, str] = field(default_factory=dict)  # relative path -> SHA-256, for explain
    environment: str | None = None  # azureml:name:version; None: thresher's own interpreter
    environment_hash: str | None = None
    environment_note: str | None = None  # e.g. how a curated Azure environment was resolved
    inputs: Mapping[str, Binding] = field(default_factory=dict)
    outputs: Mapping[str, OutputSetting] = field(default_factory=dict)
    declared_inputs: Mapping[str, Port] = field(default_factory=dict)
    is_deterministic: bool = True
    allow_reuse: bool = True
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    max_retries: int = 0  # command steps: reruns of a failed command
    compute: str | None = None
    parallel: ParallelTask | None = None
    # Where a parallel step's workers run, resolved at submission from its compute (or the pipeline's
    # default_compute): backend (local | ray), address, compute, min_nodes, idle_time_before_scale_down,
    # min_instances. Empty: local workers of the runner's machine.
    placement: Mapping[str, Any] = field(default_factory=dict)

    def upstream(self) -> set[str]:
        """The steps whose outputs this step reads."""
        return {b.step for b in self.inputs.values() if b.kind == "step_output" and b.step}


@dataclass(frozen=True)
class PipelineDef:
    """A pipeline, resolved: its steps, its inputs and outputs, its settings."""

    display_name: str | None
    experiment_name: str | None
    steps: Mapping[str, Step]
    inputs: Mapping[str, Binding] = field(default_factory=dict)
    outputs: Mapping[str, OutputSetting] = field(default_factory=dict)
    source: str = "<sdk>"
    description: str | None = None
    default_compute: str | None = None
    default_datastore: str | None = None
    continue_on_step_failure: bool = False
    force_rerun: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)

    def order(self) -> list[str]:
        """The steps in an order where every step comes after the steps it reads (checked acyclic)."""
        done: list[str] = []
        seen: set[str] = set()
        for name in self.steps:
            self._visit(name, seen, done)
        return done

    def _visit(self, name: str, seen: set[str], done: list[str]) -> None:
        if name in seen:
            return
        seen.add(name)
        for upstream in sorted(self.steps[name].upstream()):
            if upstream in self.steps:
                self._visit(upstream, seen, done)
        done.append(name)

    def downstream(self, name: str) -> Iterator[str]:
        """The steps that read an output of ``name``."""
        for step in self.steps.values():
            if name in step.upstream():
                yield step.name

    def to_dict(self) -> dict[str, Any]:
        """As plain data, for the pipeline job's row."""
        data = asdict(self)
        data["version"] = SPEC_VERSION
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineDef:
        """Back from the job row."""
        fields = {k: v for k, v in data.items() if k != "version"}
        fields["steps"] = {name: _step(step) for name, step in data["steps"].items()}
        fields["inputs"] = {name: Binding(**b) for name, b in data.get("inputs", {}).items()}
        fields["outputs"] = {name: OutputSetting(**o) for name, o in data.get("outputs", {}).items()}
        return cls(**fields)


def _step(data: Mapping[str, Any]) -> Step:
    fields = dict(data)
    fields["inputs"] = {name: Binding(**b) for name, b in data.get("inputs", {}).items()}
    fields["outputs"] = {name: OutputSetting(**o) for name, o in data.get("outputs", {}).items()}
    fields["declared_inputs"] = {
        name: Port(**{**p, "enum": tuple(p["enum"]) if p.get("enum") is not None else None})
        for name, p in data.get("declared_inputs", {}).items()
    }
    task = data.get("parallel")
    if task is not None:
        keys = task.get("partition_keys")
        fields["parallel"] = ParallelTask(**{**task, "partition_keys": tuple(keys) if keys is not None else None})
    return Step(**fields)
