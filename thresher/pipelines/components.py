"""Azure's v2 component YAML (``type: command | parallel | pipeline``) read into ``ComponentDef``s.

Every problem is collected (``Doc.problem``) with the file and line it came from, so that a pipeline
with several mistakes is reported in one error. A component referenced by several steps is read once.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thresher.errors import Problem
from thresher.pipelines.model import (
    DATA_TYPES,
    INPUT_MODES,
    INPUT_TYPES,
    NAME,
    OUTPUT_MODES,
    RESERVED_NAMES,
    ParallelTask,
    Port,
)
from thresher.specs.yamlio import KeyPath, LineMap

_OUTPUT_EXPRESSION = re.compile(r"^\$\{\{\s*outputs\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
_INPUT_EXPRESSION = re.compile(r"^\$\{\{\s*inputs\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


class Problems:
    """The problems found so far, in the order found."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, problem: Problem) -> None:
        """Record one problem (the same one twice is kept once)."""
        if problem not in self.found:
            self.found.append(problem)


@dataclass(frozen=True)
class Doc:
    """A part of a YAML document: its data, and where its keys are written (for problems)."""

    data: Any
    source: str
    lines: LineMap | None
    prefix: KeyPath
    base_dir: Path
    problems: Problems

    def sub(self, *keys: str | int) -> Doc:
        """The part under ``keys``."""
        value: Any = self.data
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
        return Doc(value, self.source, self.lines, (*self.prefix, *keys), self.base_dir, self.problems)

    def problem(self, keys: KeyPath, message: str) -> None:
        """Record a problem about the key at ``keys`` below this part."""
        path = (*self.prefix, *keys)
        line = self.lines.line_of(path) if self.lines is not None else None
        dotted = ".".join(str(p) for p in path)
        self.problems.add(Problem(self.source, line, dotted, message))

    def mapping(self) -> Mapping[str, Any]:
        """The data as a mapping (an empty one, with a problem, if it is not one)."""
        if self.data is None:
            return {}
        if not isinstance(self.data, Mapping):
            self.problem((), f"is {self.data!r}; it must be a mapping (key: value).")
            return {}
        return self.data


@dataclass(frozen=True)
class ComponentDef:
    """A component, read: its interface, and what it runs."""

    type: str  # command | parallel | pipeline
    label: str  # how it was referred to
    doc: Doc
    name: str | None = None
    version: str | None = None
    inputs: Mapping[str, Port] = field(default_factory=dict)
    outputs: Mapping[str, Port] = field(default_factory=dict)
    command: str | None = None
    code: Path | None = None
    environment: Any = None  # a reference text or an inline mapping, as written
    is_deterministic: bool = True
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    max_retries: int = 0
    task: ParallelTask | None = None
    jobs: Doc | None = None  # type: pipeline: its jobs, as written


_COMMON_KEYS = {
    "$schema",
    "name",
    "version",
    "display_name",
    "description",
    "tags",
    "type",
    "inputs",
    "outputs",
    "is_deterministic",
    "environment",
    "code",
    "environment_variables",
    "resources",
    "properties",
    "distribution",
    "compute",
    "identity",
    "services",
    "limits",
    "queue_settings",
    "creation_context",
}
_KEYS = {
    "command": _COMMON_KEYS | {"command", "retry_settings", "component"},
    "parallel": _COMMON_KEYS
    | {
        "input_data",
        "mini_batch_size",
        "mini_batch_error_threshold",
        "partition_keys",
        "max_concurrency_per_instance",
        "retry_settings",
        "logging_level",
        "task",
        "error_threshold",
        "component",
    },
    "pipeline": _COMMON_KEYS | {"jobs", "settings", "experiment_name", "component"},
}


def read_component(
    doc: Doc,
    label: str,
    *,
    kind_hint: str | None = None,
    ports: tuple[Mapping[str, Port], Mapping[str, Port]] | None = None,
) -> ComponentDef:
    """Read a component document; an inline ``command``/``parallel`` job is its own component, and then
    ``ports`` gives its inputs and outputs (inferred from its bindings)."""
    data = doc.mapping()
    kind = str(data.get("type") or kind_hint or "command").lower()
    if kind not in _KEYS:
        doc.problem(("type",), f"is {data.get('type')!r}; a component is of type command, parallel or pipeline.")
        kind = "command"
    for key in data:
        if key not in _KEYS[kind] and not (ports is not None and key in ("allow_reuse",)):
            doc.problem(
                (key,),
                f"is not a key of a {kind} component; remove it (known keys: "
                + ", ".join(sorted(k for k in _KEYS[kind] if not k.startswith("$")))
                + ").",
            )
    if ports is not None:
        inputs, outputs = dict(ports[0]), dict(ports[1])
    else:
        inputs = {n: read_port(doc.sub("inputs", n), n, output=False) for n in doc.sub("inputs").mapping()}
        outputs = {n: read_port(doc.sub("outputs", n), n, output=True) for n in doc.sub("outputs").mapping()}
    for group, declared in (("inputs", inputs), ("outputs", outputs)):
        for name in declared:
            check_name(doc, (group, name), name, "an input" if group == "inputs" else "an output")
    code = _code(doc, data.get("code"))
    deterministic = data.get("is_deterministic", True)
    if not isinstance(deterministic, bool):
        doc.problem(("is_deterministic",), f"is {deterministic!r}; it must be true or false.")
        deterministic = True
    variables = {str(k): str(v) for k, v in doc.sub("environment_variables").mapping().items()}
    retries = _int(doc, ("retry_settings", "max_retries"), (data.get("retry_settings") or {}).get("max_retries"), 0)
    common: dict[str, Any] = dict(
        label=label,
        doc=doc,
        name=data.get("name"),
        version=None if data.get("version") is None else str(data.get("version")),
        inputs=inputs,
        outputs=outputs,
        code=code,
        environment=data.get("environment"),
        is_deterministic=deterministic,
        environment_variables=variables,
    )
    if kind == "pipeline":
        if not isinstance(data.get("jobs"), Mapping) or not data.get("jobs"):
            doc.problem(("jobs",), "is missing or empty; a pipeline component needs at least one job.")
        return ComponentDef("pipeline", jobs=doc.sub("jobs"), **common)
    if kind == "command":
        command = data.get("command")
        if command is not None and not isinstance(command, str):
            doc.problem(("command",), f'is {command!r}, not text; quote it (command: "{command}").')
            command = None
        elif not isinstance(command, str) or not command.strip():
            doc.problem(("command",), "is missing; a command component needs the command line it runs.")
            command = None
        else:
            _check_placeholders(doc, ("command",), command, inputs, outputs)
            _check_script(doc, ("command",), command, code)
        return ComponentDef("command", command=command, max_retries=retries, **common)
    task, task_code = _task(doc, data, inputs, outputs, code)
    common["code"] = task_code
    return ComponentDef("parallel", task=task, **common)


def read_port(doc: Doc, name: str, *, output: bool) -> Port:
    """A declared input or output: ``{type, default, optional, min, max, enum, mode, description}``."""
    data = doc.data
    if isinstance(data, str):  # the short form "x: integer"
        data = {"type": data}
    if not isinstance(data, Mapping):
        doc.problem((), f"is {data!r}; declare it as a mapping such as {{type: uri_folder}}.")
        return Port(name, "string")
    kind = str(data.get("type", "uri_folder" if output else "string")).lower()
    known = DATA_TYPES if output else INPUT_TYPES
    if kind not in known:
        doc.problem(("type",), f"is {data.get('type')!r}; it must be one of " + ", ".join(known) + ".")
        kind = "string"
    mode = data.get("mode")
    modes = OUTPUT_MODES if output else INPUT_MODES
    if mode is not None and mode not in modes:
        doc.problem(("mode",), f"is {mode!r}; it must be one of " + ", ".join(modes) + ".")
    enum = data.get("enum")
    if enum is not None and not isinstance(enum, list):
        doc.problem(("enum",), f"is {enum!r}; it must be a list of the allowed values.")
        enum = None
    port = Port(
        name,
        kind,
        default=data.get("default"),
        optional=bool(data.get("optional", False)),
        min=_number(doc, ("min",), data.get("min")),
        max=_number(doc, ("max",), data.get("max")),
        enum=tuple(enum) if enum is not None else None,
        mode=mode,
        description=data.get("description"),
    )
    if port.default is not None:
        problem = value_problem(port, port.default)
        if problem:
            doc.problem(("default",), f"is {port.default!r}; {problem}")
    return port


def value_problem(port: Port, value: Any) -> str | None:
    """Why ``value`` cannot be given to ``port`` (None if it can): type, min/max, enum."""
    if port.type == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
        return f"input {port.name} is an integer; give a whole number."
    if port.type == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        return f"input {port.name} is a number; give a number."
    if port.type == "boolean" and not isinstance(value, bool):
        return f"input {port.name} is a boolean; give true or false."
    if port.type == "string" and isinstance(value, Mapping | list):
        return f"input {port.name} is a string; give a text value."
    if isinstance(value, int | float) and not isinstance(value, bool):
        if port.min is not None and value < port.min:
            return f"input {port.name} must be at least {port.min:g} (min)."
        if port.max is not None and value > port.max:
            return f"input {port.name} must be at most {port.max:g} (max)."
    if port.enum is not None and value not in port.enum:
        return f"input {port.name} must be one of " + ", ".join(repr(v) for v in port.enum) + " (enum)."
    return None


def coerce(port: Port, value: Any) -> Any:
    """A literal as its port's type where it is written as text ("5" for an integer, from --set)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if port.type == "integer":
            return int(text)
        if port.type == "number":
            return float(text)
    except ValueError:
        return value
    if port.type == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return value


def check_name(doc: Doc, keys: KeyPath, name: str, what: str) -> None:
    """A problem unless ``name`` is a valid, unreserved name for ``what`` (a step, an input, an output)."""
    if not NAME.match(name):
        doc.problem(
            keys,
            f"{what} name {name!r} is invalid; use letters, digits and _, starting with a letter "
            "or _ (at most 255 characters).",
        )
    elif name in RESERVED_NAMES:
        doc.problem(
            keys,
            f"{what} name {name!r} is reserved (it reads as part of a ${{{{...}}}} expression); choose another name.",
        )


def placeholders(command: str) -> list[tuple[str, str]]:
    """The ``${{inputs.x}}`` / ``${{outputs.y}}`` placeholders of a command: (group, name) pairs."""
    return [
        (m.group(1), m.group(2)) for m in re.finditer(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z0-9_.]+)\s*\}\}", command)
    ]


def _check_placeholders(
    doc: Doc, keys: KeyPath, command: str, inputs: Mapping[str, Port], outputs: Mapping[str, Port]
) -> None:
    optional_part = re.sub(r"\$\[\[.*?\]\]", "", command, flags=re.S)
    for group, name in placeholders(command):
        declared = inputs if group == "inputs" else outputs
        if name not in declared:
            doc.problem(
                keys,
                f"uses ${{{{{group}.{name}}}}}, but the component declares no {group[:-1]} "
                f"{name!r} (declared: {', '.join(declared) or 'none'}).",
            )
    for group, name in placeholders(optional_part):
        port = inputs.get(name) if group == "inputs" else None
        if port is not None and port.optional:
            doc.problem(
                keys,
                f"uses optional input {name!r} outside $[[...]]; wrap the part that uses it in "
                f"$[[...]] so that it is left out when the input is not given.",
            )


def _check_script(doc: Doc, keys: KeyPath, command: str, code: Path | None) -> None:
    """A problem when the command runs ``python <script>.py`` and the code folder has no such file."""
    try:
        words = shlex.split(re.sub(r"\$\[\[.*?\]\]", "", command, flags=re.S))
    except ValueError:
        return
    for index, word in enumerate(words):
        if (
            word.endswith(".py")
            and "${{" not in word
            and index > 0
            and Path(words[index - 1]).name.startswith("python")
        ):
            where = code if code is not None else doc.base_dir
            if not (where / word).is_file():
                doc.problem(
                    keys,
                    f"runs {word}, which is not in the code folder {where}; check code: and the "
                    "script's path (relative to the code folder).",
                )
            return


def _code(doc: Doc, value: Any) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str):
        doc.problem(("code",), f"is {value!r}; it must be the path of the code folder.")
        return None
    if value.startswith("azureml:"):
        doc.problem(("code",), f"is {value!r}; registered code assets are not supported here; give the folder.")
        return None
    path = (doc.base_dir / value.removeprefix("file:")).resolve()
    if not path.exists():
        doc.problem(("code",), f"is {value!r}, which does not exist (looked at {path}).")
        return None
    return path


def _task(
    doc: Doc, data: Mapping[str, Any], inputs: Mapping[str, Port], outputs: Mapping[str, Port], code: Path | None
) -> tuple[ParallelTask | None, Path | None]:
    task = doc.sub("task").mapping()
    if not task:
        doc.problem(("task",), "is missing; a parallel component needs task: {type: run_function, code, entry_script}.")
        return None, code
    task_doc = doc.sub("task")
    task_code = _code(task_doc, task.get("code")) if task.get("code") else code
    entry = task.get("entry_script")
    if not isinstance(entry, str) or not entry:
        task_doc.problem(("entry_script",), "is missing; name the scoring script (relative to task.code).")
        entry = ""
    elif task_code is not None and not (task_code / entry).is_file():
        task_doc.problem(("entry_script",), f"is {entry!r}, which is not in the code folder {task_code}.")
    arguments = task.get("program_arguments", task.get("args"))
    input_data = data.get("input_data")
    match = _INPUT_EXPRESSION.match(str(input_data or "").strip())
    if match is None or match.group("name") not in inputs:
        doc.problem(("input_data",), f"is {input_data!r}; it must be ${{{{inputs.<name>}}}} of a declared data input.")
        input_name = ""
    else:
        input_name = match.group("name")
    append = task.get("append_row_to")
    append_name = None
    if append is not None:
        found = _OUTPUT_EXPRESSION.match(str(append).strip())
        if found is None or found.group("name") not in outputs:
            task_doc.problem(
                ("append_row_to",), f"is {append!r}; it must be ${{{{outputs.<name>}}}} of a declared output."
            )
        else:
            append_name = found.group("name")
    retry = doc.sub("retry_settings").mapping()
    size = data.get("mini_batch_size", 10)
    keys = data.get("partition_keys")
    return ParallelTask(
        input_data=input_name,
        entry_script=entry,
        program_arguments=str(arguments) if arguments is not None else None,
        mini_batch_size=size if isinstance(size, int) else str(size),
        mini_batch_error_threshold=_int(
            doc, ("mini_batch_error_threshold",), data.get("mini_batch_error_threshold"), -1
        ),
        error_threshold=_int(doc, ("error_threshold",), data.get("error_threshold"), -1),
        instance_count=_int(
            doc, ("resources", "instance_count"), (data.get("resources") or {}).get("instance_count"), 1
        ),
        max_concurrency_per_instance=_int(
            doc, ("max_concurrency_per_instance",), data.get("max_concurrency_per_instance"), 1
        ),
        logging_level=str(data.get("logging_level", "info")).lower(),
        max_retries=_int(doc, ("retry_settings", "max_retries"), retry.get("max_retries"), 3),
        timeout=_int(doc, ("retry_settings", "timeout"), retry.get("timeout"), 30),
        append_row_to=append_name,
        partition_keys=tuple(keys) if isinstance(keys, list) else None,
        output_action="append_row" if append_name else "summary_only",
    ), task_code


def _int(doc: Doc, keys: KeyPath, value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            return int(str(value))
        except ValueError:
            doc.problem(keys, f"is {value!r}; it must be a whole number.")
            return default
    return value


def _number(doc: Doc, keys: KeyPath, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        doc.problem(keys, f"is {value!r}; it must be a number.")
        return None
    return float(value)
