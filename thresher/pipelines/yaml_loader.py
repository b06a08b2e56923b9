"""Azure's v2 pipeline job YAML (``type: pipeline``) read into a ``PipelineDef``, every problem at once.

Steps refer to components inline, by file (``component: ./prep.yml`` or ``file:./prep.yml``) or as
registered ones (``azureml:prep:1``, ``azureml:prep@latest``); ``type: pipeline`` components nest, and
their steps are flattened into the pipeline as ``<step>.<inner step>``. Bindings:
``${{parent.inputs.x}}``, ``${{parent.outputs.x}}`` and ``${{parent.jobs.<step>.outputs.<o>}}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from thresher.errors import SpecError
from thresher.pipelines.components import (
    ComponentDef,
    Doc,
    Problems,
    check_name,
    coerce,
    read_component,
    read_port,
    value_problem,
)
from thresher.pipelines.graph import check_graph
from thresher.pipelines.model import DATA_TYPES, Binding, OutputSetting, PipelineDef, Port, Step
from thresher.pipelines.sources import Sources
from thresher.specs.overrides import merge_overrides
from thresher.specs.references import read_reference
from thresher.specs.yamlio import KeyPath, LineMap, read_yaml

_PARENT_INPUT = re.compile(r"^\$\{\{\s*parent\.inputs\.(?P<name>[A-Za-z0-9_]+)\s*\}\}$")
_PARENT_OUTPUT = re.compile(r"^\$\{\{\s*parent\.outputs\.(?P<name>[A-Za-z0-9_]+)\s*\}\}$")
_STEP_OUTPUT = re.compile(r"^\$\{\{\s*parent\.jobs\.(?P<step>[A-Za-z0-9_]+)\.outputs\.(?P<name>[A-Za-z0-9_]+)\s*\}\}$")
_EXPRESSION = re.compile(r"\$\{\{.*\}\}")
_PIPELINE_KEYS = {
    "$schema",
    "type",
    "name",
    "display_name",
    "experiment_name",
    "description",
    "tags",
    "settings",
    "inputs",
    "outputs",
    "jobs",
    "properties",
    "compute",
    "identity",
}
_SETTINGS = {
    "default_compute",
    "default_datastore",
    "continue_on_step_failure",
    "force_rerun",
    "default_environment",
    "on_init",
    "on_finalize",
    "continue_run_on_failed_optional_input",
}
_JOB_OVERRIDES = {
    "inputs",
    "outputs",
    "component",
    "type",
    "compute",
    "environment_variables",
    "mini_batch_size",
    "mini_batch_error_threshold",
    "max_concurrency_per_instance",
    "resources",
    "retry_settings",
    "logging_level",
    "name",
    "display_name",
    "description",
    "tags",
    "settings",
    "allow_reuse",
    "error_threshold",
    "partition_keys",
    "input_data",
    "task",
    "identity",
    "limits",
    "properties",
}


@dataclass
class _Scope:
    """Where a (possibly nested) pipeline's jobs are read: its inputs and outputs, and the step prefix."""

    sources: Sources
    inputs: Mapping[str, Binding]
    input_ports: Mapping[str, Port]
    outputs: Mapping[str, OutputSetting]
    prefix: str = ""
    input_docs: Mapping[str, Doc] = field(default_factory=dict)  # where each input's value is written
    # (nested step, its output) -> (inner step, inner output): ${{parent.outputs.o}} of inner jobs
    aliases: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)


@dataclass
class _Loaded:
    steps: dict[str, Step] = field(default_factory=dict)
    where: dict[tuple[str, str], tuple[Doc, KeyPath]] = field(default_factory=dict)  # (step, input) -> its key
    step_docs: dict[str, Doc] = field(default_factory=dict)


def load_pipeline(path: str | Path, sources: Sources, *, overrides: Sequence[str] = ()) -> PipelineDef:
    """Read a pipeline job YAML file, with ``--set`` overrides; SpecError listing every problem."""
    file = Path(path)
    data, lines = read_yaml(file, file.name)
    problems = Problems()
    data, applied, override_problems = merge_overrides(data, overrides)
    for problem in override_problems:
        problems.add(problem)
    doc = Doc(data, file.name, _OverrideLines(lines, applied), (), file.resolve().parent, problems)
    return build_pipeline(doc, sources)


def build_pipeline(doc: Doc, sources: Sources) -> PipelineDef:
    """A PipelineDef from a pipeline job document; SpecError listing every problem."""
    data = doc.mapping()
    if str(data.get("type", "")).lower() != "pipeline":
        doc.problem(("type",), f"is {data.get('type')!r}; a pipeline job has type: pipeline.")
    for key in data:
        if key not in _PIPELINE_KEYS:
            doc.problem((key,), "is not a key of a pipeline job; remove it.")
    settings = doc.sub("settings").mapping()
    for key in settings:
        if key not in _SETTINGS:
            doc.problem(("settings", key), "is not a pipeline setting (known: " + ", ".join(sorted(_SETTINGS)) + ").")
    inputs, ports = _pipeline_inputs(doc.sub("inputs"), sources)
    outputs = {name: _output_setting(doc.sub("outputs", name), name, sources) for name in doc.sub("outputs").mapping()}
    jobs = doc.sub("jobs")
    if not jobs.mapping():
        doc.problem(("jobs",), "is missing or empty; a pipeline needs at least one job.")
    loaded = _Loaded()
    scope = _Scope(sources, inputs, ports, outputs, input_docs={n: doc.sub("inputs", n) for n in inputs})
    _read_jobs(jobs, scope, sources, loaded)
    steps = {name: _unalias(step, scope.aliases) for name, step in loaded.steps.items()}
    default_compute = settings.get("default_compute") or data.get("compute")
    pipeline = PipelineDef(
        display_name=data.get("display_name") or data.get("name"),
        experiment_name=data.get("experiment_name"),
        steps=steps,
        inputs=inputs,
        outputs=outputs,
        source=doc.source,
        description=data.get("description"),
        default_compute=_compute_name(default_compute),
        default_datastore=_compute_name(settings.get("default_datastore")),
        continue_on_step_failure=bool(settings.get("continue_on_step_failure", False)),
        force_rerun=bool(settings.get("force_rerun", False)),
        tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
    )
    check_graph(pipeline, loaded.where, loaded.step_docs, doc)
    if doc.problems.found:
        raise SpecError(
            doc.problems.found,
            what=f"pipeline {doc.source}",
            fix=f"Correct {doc.source} and submit it again; nothing was run.",
        )
    return pipeline


def _pipeline_inputs(doc: Doc, sources: Sources) -> tuple[dict[str, Binding], dict[str, Port]]:
    bindings: dict[str, Binding] = {}
    ports: dict[str, Port] = {}
    for name, value in doc.mapping().items():
        check_name(doc, (name,), name, "an input")
        sub = doc.sub(name)
        if isinstance(value, Mapping) and "path" in value:
            bindings[name] = _data(sub, value, str(value.get("type", "uri_folder")), sources)
            ports[name] = Port(name, bindings[name].type or "uri_folder")
        elif isinstance(value, Mapping):
            port = read_port(sub, name, output=False)
            chosen = value.get("value", value.get("default"))
            if port.is_data:
                sub.problem((), f"is a {port.type} input without a path; give path: <file, folder or azureml: asset>.")
                continue
            bindings[name] = Binding.literal(coerce(port, chosen))
            ports[name] = port
        else:
            bindings[name] = Binding.literal(value)
            ports[name] = Port(name, _literal_type(value))
    return bindings, ports


def _literal_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _output_setting(doc: Doc, name: str, sources: Sources) -> OutputSetting:
    value = doc.data
    check_name(doc, (), name, "an output")
    if value is None:
        return OutputSetting(name)
    if not isinstance(value, Mapping):
        doc.problem((), f"is {value!r}; declare an output as a mapping such as {{type: uri_folder, mode: rw_mount}}.")
        return OutputSetting(name)
    port = read_port(doc, name, output=True)
    path = value.get("path")
    if path is not None:
        path = _destination(doc, str(path), sources)
    register = value.get("name")
    return OutputSetting(
        name, type=port.type, mode=port.mode or "rw_mount", path=path, register_as=str(register) if register else None
    )


def _destination(doc: Doc, path: str, sources: Sources) -> str | None:
    if path.startswith("azureml://datastores/"):
        try:
            return sources.datastore_path(path).path
        except LookupError as exc:
            doc.problem(("path",), f"is {path!r}: {exc}")
            return None
    if "://" in path:
        return path
    return str((doc.base_dir / path).resolve())


def _read_jobs(jobs: Doc, scope: _Scope, sources: Sources, loaded: _Loaded) -> None:
    for name in jobs.mapping():
        job = jobs.sub(name)
        check_name(jobs, (name,), name, "a step")
        component = _component_of(job, sources)
        if component is None:
            continue
        step_name = scope.prefix + name
        bindings = _bind_inputs(job, component, scope, loaded, step_name)
        outputs = _bind_outputs(job, component, scope, sources, step_name)
        if component.type == "pipeline":
            assert component.jobs is not None
            inner = _Scope(sources, bindings, component.inputs, outputs, prefix=f"{step_name}.", aliases=scope.aliases)
            _read_jobs(component.jobs, inner, sources, loaded)
            continue
        loaded.steps[step_name] = _step(step_name, job, component, bindings, outputs, sources)
        loaded.step_docs[step_name] = job


def _component_of(job: Doc, sources: Sources) -> ComponentDef | None:
    data = job.mapping()
    if not data:
        return None
    for key in data:
        if "component" in data and key not in _JOB_OVERRIDES:
            job.problem((key,), "is not a key of a pipeline job's step; remove it.")
    reference = data.get("component")
    if reference is None:  # an inline command/parallel job: its own component; its inputs are bindings
        kind = str(data.get("type", "command")).lower()
        ports = {name: _inferred_port(name, value) for name, value in job.sub("inputs").mapping().items()}
        outputs = {
            name: read_port(job.sub("outputs", name), name, output=True)
            if isinstance(value, Mapping)
            else Port(name, "uri_folder")
            for name, value in job.sub("outputs").mapping().items()
        }
        return read_component(job, "inline", kind_hint=kind, ports=(ports, outputs))
    if isinstance(reference, Mapping):
        return read_component(job.sub("component"), "inline")
    if not isinstance(reference, str):
        job.problem(("component",), f"is {reference!r}; give azureml:<name>:<version>, a file or a mapping.")
        return None
    if reference.startswith("azureml:") and not reference.startswith("azureml://"):
        try:
            parsed = read_reference(reference)
        except ValueError as exc:
            job.problem(("component",), f"is {reference!r}: {exc}")
            return None
        assert parsed is not None
        try:
            found = sources.component(parsed.name, parsed.version)
        except LookupError as exc:
            job.problem(("component",), f"is {reference!r}: {exc}")
            return None
        doc = Doc(found.data, found.source, found.lines, (), found.base_dir, job.problems)
        return read_component(doc, reference)
    path = (job.base_dir / reference.removeprefix("file:")).resolve()
    if not path.is_file():
        job.problem(("component",), f"is {reference!r}, which does not exist (looked at {path}).")
        return None
    try:
        data, lines = read_yaml(path, path.name)
    except SpecError as exc:
        for problem in exc.problems:
            job.problems.add(problem)
        return None
    return read_component(Doc(data, path.name, lines, (), path.parent, job.problems), reference)


def _inferred_port(name: str, value: Any) -> Port:
    if isinstance(value, Mapping):
        return Port(name, str(value.get("type", "uri_folder")), mode=value.get("mode"))
    if isinstance(value, str) and _EXPRESSION.search(value):
        return Port(name, "any")
    return Port(name, _literal_type(value))


def _bind_inputs(job: Doc, component: ComponentDef, scope: _Scope, loaded: _Loaded, step: str) -> dict[str, Binding]:
    given = job.sub("inputs").mapping()
    bindings: dict[str, Binding] = {}
    for name, value in given.items():
        keys: KeyPath = ("inputs", name)
        port = component.inputs.get(name)
        if port is None:
            job.problem(
                keys,
                f"is not an input of component {component.label} (its inputs: "
                f"{', '.join(component.inputs) or 'none'}).",
            )
            continue
        binding = _binding(job.sub("inputs", name), port, value, scope)
        if binding is not None:
            bindings[name] = binding
            loaded.where[(step, name)] = (job, keys)
    for name, port in component.inputs.items():
        if name in bindings or name in given:  # bound (a wrong binding is reported where it is written)
            continue
        if port.default is not None:
            bindings[name] = (
                Binding.literal(port.default)
                if not port.is_data
                else Binding("data", type=port.type, path=str(port.default))
            )
        elif not port.optional:
            job.problem(
                ("inputs",),
                f"input {name!r} of component {component.label} is not bound: it has no "
                f"default and is not optional; bind it (inputs: {{{name}: ...}}).",
            )
    return bindings


def _binding(doc: Doc, port: Port, value: Any, scope: _Scope) -> Binding | None:
    if isinstance(value, str) and (match := _PARENT_INPUT.match(value.strip())):
        source = scope.inputs.get(match.group("name"))
        if source is None:
            doc.problem(
                (),
                f"is {value!r}, but the pipeline has no input {match.group('name')!r} (its inputs: "
                f"{', '.join(scope.inputs) or 'none'}).",
            )
            return None
        # A value that breaks the step's rules is reported where it is written: at the pipeline's input.
        written = scope.input_docs.get(match.group("name"), doc) if source.kind == "literal" else doc
        return _checked(written, port, source, source.value if source.kind == "literal" else value)
    if isinstance(value, str) and (match := _STEP_OUTPUT.match(value.strip())):
        return Binding.of_step(scope.prefix + match.group("step"), match.group("name"))
    if isinstance(value, str) and _EXPRESSION.search(value):
        doc.problem(
            (),
            f"is {value!r}; a binding is ${{{{parent.inputs.<name>}}}} or ${{{{parent.jobs.<step>.outputs.<name>}}}}.",
        )
        return None
    if isinstance(value, Mapping):
        if "path" not in value:
            doc.problem((), "is a mapping without path; give path: <file, folder or azureml: asset>.")
            return None
        return _checked(doc, port, _data(doc, value, str(value.get("type", port.type)), scope.sources), value)
    if port.is_data and isinstance(value, str):
        return _checked(doc, port, _data(doc, {"path": value}, port.type, scope.sources), value)
    return _checked(doc, port, Binding.literal(coerce(port, value)), value)


def _checked(doc: Doc, port: Port, binding: Binding, written: Any) -> Binding:
    if port.type == "any":
        return binding
    if binding.kind == "literal" and port.is_data:
        doc.problem((), f"is {written!r}, a literal, but input {port.name} is a {port.type}; give a path.")
    elif binding.kind == "data" and not port.is_data:
        doc.problem((), f"is data ({binding.describe()}), but input {port.name} is a {port.type}; give a value.")
    elif binding.kind == "literal":
        value = coerce(port, binding.value)
        problem = value_problem(port, value)
        if problem:
            doc.problem((), f"is {binding.value!r}; {problem}")
        return Binding.literal(value)
    if binding.kind == "data" and port.mode and not binding.mode:
        return replace(binding, mode=port.mode)
    return binding


def _data(doc: Doc, value: Mapping[str, Any], kind: str, sources: Sources) -> Binding:
    path = str(value.get("path"))
    mode = value.get("mode")
    fingerprint = "content" if value.get("fingerprint") == "content" else None
    if kind not in DATA_TYPES:
        doc.problem(("type",), f"is {kind!r}; a data input is one of " + ", ".join(DATA_TYPES) + ".")
        kind = "uri_folder"
    try:
        if path.startswith("azureml:") and not path.startswith("azureml://"):
            reference = read_reference(path)
            assert reference is not None
            lookup = sources.model if kind in ("mlflow_model", "custom_model") else sources.data
            found = lookup(reference.name, reference.version)
            return Binding("data", type=kind, path=found.path, asset=found.asset, mode=mode, fingerprint=fingerprint)
        if path.startswith("azureml://"):
            found = sources.datastore_path(path)
            return Binding("data", type=kind, path=found.path, mode=mode, fingerprint=fingerprint)
    except (LookupError, ValueError) as exc:
        doc.problem(("path",), f"is {path!r}: {exc}")
        return Binding("data", type=kind, path=path, mode=mode)
    if "://" in path:
        return Binding("data", type=kind, path=path, mode=mode, fingerprint=fingerprint)
    local = (doc.base_dir / path.removeprefix("file:")).resolve()
    if not local.exists():
        doc.problem(
            ("path",) if isinstance(doc.data, Mapping) else (),
            f"is {path!r}, which does not exist (looked at {local}).",
        )
    elif kind == "uri_file" and not local.is_file():
        doc.problem(
            ("path",) if isinstance(doc.data, Mapping) else (),
            f"is {path!r}, a folder, but the type is uri_file; use type: uri_folder or give a file.",
        )
    if fingerprint is None and sources.uploaded(local):
        fingerprint = "content"  # uploaded by a remote client: a new upload of the same bytes is the same input
    return Binding("data", type=kind, path=str(local), mode=mode, fingerprint=fingerprint)


def _bind_outputs(
    job: Doc, component: ComponentDef, scope: _Scope, sources: Sources, step: str
) -> dict[str, OutputSetting]:
    settings: dict[str, OutputSetting] = {}
    given = job.sub("outputs").mapping()
    for name, value in given.items():
        port = component.outputs.get(name)
        if port is None:
            job.problem(
                ("outputs", name),
                f"is not an output of component {component.label} (its outputs: "
                f"{', '.join(component.outputs) or 'none'}).",
            )
            continue
        if isinstance(value, str) and (match := _PARENT_OUTPUT.match(value.strip())):
            target = scope.outputs.get(match.group("name"))
            if target is None:
                job.problem(
                    ("outputs", name),
                    f"is {value!r}, but the pipeline declares no output "
                    f"{match.group('name')!r} (its outputs: {', '.join(scope.outputs) or 'none'}).",
                )
                continue
            if scope.prefix:  # a nested pipeline's output: the steps after it read it from this step
                scope.aliases[(scope.prefix.rstrip("."), match.group("name"))] = (step, name)
            settings[name] = replace(
                target,
                name=name,
                type=port.type,
                pipeline_output=target.pipeline_output or (None if scope.prefix else target.name),
            )
        elif isinstance(value, Mapping):
            setting = _output_setting(job.sub("outputs", name), name, sources)
            settings[name] = replace(setting, type=port.type if "type" not in value else setting.type)
        elif value is not None:
            job.problem(
                ("outputs", name),
                f"is {value!r}; bind it to ${{{{parent.outputs.<name>}}}} or give a "
                "mapping such as {type: uri_folder, mode: rw_mount}.",
            )
    for name, port in component.outputs.items():
        settings.setdefault(name, OutputSetting(name, type=port.type, mode=port.mode or "rw_mount"))
    return settings


def _step(
    name: str,
    job: Doc,
    component: ComponentDef,
    inputs: dict[str, Binding],
    outputs: dict[str, OutputSetting],
    sources: Sources,
) -> Step:
    data = job.mapping()
    environment, note, environment_hash = None, None, None
    if component.environment is not None:
        try:
            environment, note = sources.environment(component.environment, component.doc.base_dir)
            environment_hash = sources.environment_hash(environment) if environment else None
        except LookupError as exc:
            component.doc.problem(("environment",), f"is {component.environment!r}: {exc}")
    code = sources.snapshot(component.code) if component.code is not None else None
    variables = {
        **component.environment_variables,
        **{str(k): str(v) for k, v in job.sub("environment_variables").mapping().items()},
    }
    task = component.task
    if task is not None:
        overrides: dict[str, Any] = {}
        for key in (
            "mini_batch_size",
            "mini_batch_error_threshold",
            "max_concurrency_per_instance",
            "logging_level",
            "error_threshold",
        ):
            if key in data and "component" in data:
                overrides[key] = data[key]
        if isinstance(data.get("resources"), Mapping) and "instance_count" in data["resources"]:
            overrides["instance_count"] = int(data["resources"]["instance_count"])
        task = replace(task, **overrides)
    allow_reuse = data.get("allow_reuse", True)
    return Step(
        name=name,
        type="parallel" if component.type == "parallel" else "command",
        component=component.label if component.label != "inline" else f"inline ({job.source})",
        command=component.command,
        code=code.path if code else None,
        code_hash=code.digest if code else None,
        code_files=dict(code.files) if code else {},
        environment=environment,
        environment_hash=environment_hash,
        environment_note=note,
        inputs=inputs,
        outputs=outputs,
        declared_inputs=dict(component.inputs),
        is_deterministic=component.is_deterministic,
        allow_reuse=bool(allow_reuse),
        environment_variables=variables,
        max_retries=component.max_retries,
        compute=_compute_name(data.get("compute")),
        parallel=task,
    )


def _unalias(step: Step, aliases: Mapping[tuple[str, str], tuple[str, str]]) -> Step:
    changed = {}
    for name, binding in step.inputs.items():
        target = (binding.step or "", binding.output or "")
        seen = 0
        while binding.kind == "step_output" and target in aliases and seen < 32:
            target = aliases[target]
            seen += 1
        if seen:
            changed[name] = Binding.of_step(*target)
    return replace(step, inputs={**step.inputs, **changed}) if changed else step


def _compute_name(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text.removeprefix("azureml:")


class _OverrideLines(LineMap):
    """Line numbers of the file, except for keys that ``--set`` assigned (they have none)."""

    def __init__(self, lines: LineMap, applied: Sequence[KeyPath]) -> None:
        super().__init__()
        self._file = lines
        self._applied = list(applied)

    def line_of(self, path: KeyPath) -> int | None:
        if any(path[: len(a)] == a for a in self._applied):
            return None
        return self._file.line_of(path)
