"""One v1 step as a thresher ``Step``: its arguments rendered into a command line with ``${{inputs.x}}``
and ``${{outputs.x}}`` placeholders, its data inputs bound, its outputs placed, its environment resolved.

A command step's process gets, besides its arguments, ``AZUREML_DATAREFERENCE_<name>`` (the local path
of each data input and output: ``Run.input_datasets`` reads them), ``THRESHER_V1_DATASETS`` (their kind
and read options), ``AML_PARAMETER_<name>`` for ``params``, and the shim on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thresher.errors import ThresherError
from thresher.pipelines.model import Binding, OutputSetting, Port, Step
from thresher.storage.snapshot import load_ignore

from ..core.environment import Environment
from ..data.dataset_consumption_config import DatasetConsumptionConfig
from ..data.datasets import AbstractDataset
from ..data.output_dataset_config import OutputDatasetConfig, OutputFileDatasetConfig, OutputTabularDatasetConfig
from ..pipeline.core.graph import PipelineParameter
from ..pipeline.steps.parallel_run import ParallelRunStep
from ..pipeline.steps.python_script_step import PythonScriptStep
from . import datasets, environments

if TYPE_CHECKING:
    from ..pipeline.core.step import PipelineStep
    from .translate import PipelineBuilder

SHIM_DIR = str(Path(__file__).resolve().parents[2])
_MODES = {"mount": "ro_mount", "download": "download", "direct": None, "hdfs": None}
_ARGUMENTS = (
    "strings, numbers, PipelineParameters, datasets (as_named_input, as_mount, as_download) and "
    "OutputFileDatasetConfig or PipelineData objects"
)


def _literal_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "integer" if isinstance(value, int) else "number" if isinstance(value, float) else "string"


class StepBuilder:
    """Builds one step; problems go to the pipeline builder's list."""

    def __init__(self, pipeline: PipelineBuilder, step: PipelineStep, name: str) -> None:
        self.p, self.step, self.name = pipeline, step, name
        self.inputs: dict[str, Binding] = {}
        self.ports: dict[str, Port] = {}
        self.outputs: dict[str, OutputSetting] = {}
        self.datasets: dict[str, dict[str, Any]] = {}  # THRESHER_V1_DATASETS
        self._keys: dict[tuple[int, str | None, str], str] = {}
        self._unnamed = 0
        self._written = {id(o) for o in step._produced()}

    def problem(self, text: str) -> None:
        self.p.problems.append(f"step '{self.name}': {text}")

    # -- inputs, outputs, arguments ------------------------------------------------------------

    def data_input(self, item: Any) -> str | None:
        """Declare ``item`` as a data input; its name (None when it is not data)."""
        if isinstance(item, DatasetConsumptionConfig):
            name, source, mode = item.name, item.dataset, item.mode
        elif isinstance(item, AbstractDataset):
            name, source, mode = None, item, "mount" if item._kind == "file" else "direct"
        elif isinstance(item, OutputDatasetConfig):
            name, source, mode = None, item, "mount"
        else:
            self.problem(f"input {item!r} is not a dataset or another step's output; inputs are {_ARGUMENTS}.")
            return None
        if isinstance(source, PipelineParameter):
            source = self.p.parameter(source)
        key = (id(source), name, mode)
        if key in self._keys:
            return self._keys[key]
        if isinstance(source, OutputDatasetConfig):
            writer = self.p.writer_of(source._output, self.name)
            if writer is None:
                return None
            tabular = isinstance(source, OutputTabularDatasetConfig)
            options = source._options if isinstance(source, OutputTabularDatasetConfig) else {}
            final = self._unique(name, writer[1])
            binding = Binding("step_output", type="uri_folder", mode=_MODES[mode], step=writer[0], output=writer[1])
            self.datasets[final] = {"role": "input", "kind": "tabular" if tabular else "file", "options": options}
        elif isinstance(source, AbstractDataset):
            if name is None and source.name is None:
                self._unnamed += 1
            final = self._unique(name, source.name or f"input_{self._unnamed}")
            try:
                binding = datasets.binding(source, _MODES[mode], self.p.sources)
            except LookupError as exc:
                self.problem(f"input {final}: {exc}.")
                return None
            self.datasets[final] = {"role": "input", "kind": source._kind, "options": source._options}
        else:
            self.problem(f"input {name or ''} is {source!r}, not a dataset; inputs are {_ARGUMENTS}.")
            return None
        self._keys[key] = final
        self.inputs[final] = binding
        self.ports[final] = Port(final, binding.type or "uri_folder", mode=binding.mode)
        return final

    def _unique(self, given: str | None, default: str) -> str:
        from .translate import identifier

        name = identifier(given or default)
        if given and name in self.inputs:
            self.problem(f"two different inputs are named {given!r}; give each its own name.")
        while name in self.inputs:
            name += "_"
        return name

    def output(self, output: OutputFileDatasetConfig) -> str:
        """Declare an output this step writes; its name."""
        name = self.p.writers[id(output)][1]
        if name not in self.outputs:
            path = None
            if output.destination is not None:
                store, relative = output.destination
                store_name = getattr(store, "name", store) or self.p.workspace.settings.default_datastore
                uri = f"azureml://datastores/{store_name}/paths/{relative.lstrip('/')}"
                try:
                    path = self.p.sources.datastore_path(uri).path
                except LookupError as exc:
                    self.problem(f"output {name}: destination {uri}: {exc}.")
            registered = output._registration[0] if output._registration else None
            mode = "upload" if output.mode == "upload" else "rw_mount"
            self.outputs[name] = OutputSetting(name, mode=mode, path=path, register_as=registered)
            self.datasets[name] = {"role": "output", "kind": "file", "options": {}}
        return name

    def argument(self, index: int, value: Any) -> str:
        """One argument as command-line text."""
        if isinstance(value, PipelineParameter) and isinstance(self.p.parameter(value), AbstractDataset):
            name = self.data_input(DatasetConsumptionConfig(value.name, value))  # a dataset-valued parameter
            return f'"${{{{inputs.{name}}}}}"' if name else ""
        if isinstance(value, PipelineParameter):
            literal = self.p.parameter(value)
            if value.name in self.inputs and self.inputs[value.name].kind != "literal":
                self.problem(f"PipelineParameter {value.name!r} has the name of a data input; rename one.")
            self.inputs[value.name] = Binding.literal(literal)
            self.ports[value.name] = Port(value.name, _literal_type(literal), default=literal)
            return f'"${{{{inputs.{value.name}}}}}"'
        if isinstance(value, OutputDatasetConfig) and id(value._output) in self._written:
            return f'"${{{{outputs.{self.output(value._output)}}}}}"'
        if isinstance(value, (DatasetConsumptionConfig, AbstractDataset, OutputDatasetConfig)):
            name = self.data_input(value)
            return f'"${{{{inputs.{name}}}}}"' if name else ""
        if isinstance(value, (str, int, float, bool)):
            return shlex.quote(str(value))
        self.problem(f"argument {index + 1} is a {type(value).__name__} ({value!r}); arguments are {_ARGUMENTS}.")
        return ""

    # -- the step ------------------------------------------------------------------------------

    def source(self, folder: str | None, script: str, what: str) -> Path:
        """The step's source folder, checked to hold ``script`` and not the workspace."""
        base = folder or self.p.pipeline.default_source_directory or "."
        root = Path(base).resolve()
        if not root.is_dir():
            self.problem(f"source_directory {base!r} is not a folder (looked at {root}).")
        elif not (root / script).is_file():
            self.problem(f"{what} {script!r} is not in source_directory {base!r} (looked at {root / script}).")
        home = self.p.workspace.settings.workspace_dir.resolve()
        if home == root or root in home.parents:
            relative = home.relative_to(root).as_posix() + "/"
            if home == root or not load_ignore(root)(relative):
                self.problem(
                    f"source_directory {base!r} holds the workspace ({home}); give each step a folder of its "
                    f"scripts, or add {relative} to its .amlignore."
                )
        return root

    def environment(self, env: Any) -> tuple[str | None, str | None, str | None]:
        if env is None:
            env = Environment("default-environment")
        try:
            return environments.resolve(env, self.p.sources)
        except (LookupError, ThresherError) as exc:
            self.problem(f"environment {getattr(env, 'name', env)!r}: {getattr(exc, 'message', exc)}")
            return None, None, None

    def compute(self, target: Any) -> str | None:
        name = getattr(target, "name", target)
        if name in (None, "", "local"):
            return None
        try:
            self.p.workspace.computes.get(str(name))
        except ThresherError:
            self.problem(f"compute_target {name!r} does not exist; create it first (ComputeTarget.create).")
        return str(name)

    def build(self) -> Step | None:
        if isinstance(self.step, PythonScriptStep):
            return self._script(self.step)
        if isinstance(self.step, ParallelRunStep):
            from .parallel import parallel_step

            return parallel_step(self, self.step)
        self.problem(f"{type(self.step).__name__} is not supported by thresher; use PythonScriptStep.")
        return None

    def code(self, root: Path) -> dict[str, Any]:
        if not self.p.snapshot or not root.is_dir():
            return {}
        stored = self.p.sources.snapshot(root)
        return {"code": stored.path, "code_hash": stored.digest, "code_files": dict(stored.files)}

    def _script(self, step: PythonScriptStep) -> Step:
        root = self.source(step.source_directory, step.script_name, "script_name")
        words = [self.argument(i, a) for i, a in enumerate(step._arguments)]
        for item in step._inputs:
            if isinstance(item, OutputDatasetConfig) and id(item._output) in self._written:
                continue
            self.data_input(item)
        for output in step._produced():
            self.output(output)
        prefix = [f'AZUREML_DATAREFERENCE_{n}="${{{{inputs.{n}}}}}"' for n in self.inputs if n in self.datasets]
        prefix += [f'AZUREML_DATAREFERENCE_{n}="${{{{outputs.{n}}}}}"' for n in self.outputs]
        variables: dict[str, str] = {}
        for key, value in step.params.items():
            if isinstance(value, PipelineParameter):
                prefix.append(f"AML_PARAMETER_{key}={self.argument(0, value)}")
            else:
                variables[f"AML_PARAMETER_{key}"] = str(value)
        runconfig = step.runconfig
        env = runconfig.environment if runconfig is not None else None
        reference, env_hash, note = self.environment(env)
        variables.update(getattr(env, "environment_variables", None) or {})
        variables["PYTHONPATH"] = SHIM_DIR
        variables["THRESHER_V1_DATASETS"] = json.dumps(self.datasets, sort_keys=True)
        command = " ".join([*prefix, "python", shlex.quote(step.script_name), *[w for w in words if w]])
        return Step(
            name=self.name,
            type="command",
            component=f"PythonScriptStep {step.script_name}",
            command=command,
            environment=reference,
            environment_hash=env_hash,
            environment_note=note,
            inputs=self.inputs,
            outputs=self.outputs,
            declared_inputs=self.ports,
            allow_reuse=bool(step.allow_reuse),
            environment_variables=variables,
            compute=self.compute(step.compute_target or (runconfig.target if runconfig is not None else None)),
            **self.code(root),
        )
