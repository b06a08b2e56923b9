"""A v1 ``Pipeline`` as thresher's pipeline model (``PipelineDef``), every problem found at once.

The graph: each step writes the outputs it declares and reads the outputs of other steps through
``.as_input()`` / ``inputs=``; a read output becomes a ``step_output`` binding to its writer. A step
whose output is read but which is not listed is added (Azure's ``resolve_closure``). Names: steps are
named after ``name`` (default: the script's name without ``.py``), made into identifiers; an output
without a name is ``output_<n>`` (n counts the pipeline's unnamed outputs in step order), so that the
same driver script gives the same names, and so the same cache keys, every time.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from thresher.pipelines.model import RESERVED_NAMES, Binding, PipelineDef, Step
from thresher.sdk.pipelines import WorkspaceSources

from ..pipeline.core.graph import PipelineParameter
from ..pipeline.core.step import PipelineStep
from .steps import StepBuilder

if TYPE_CHECKING:
    from ..data.output_dataset_config import OutputFileDatasetConfig
    from ..pipeline.core.pipeline import Pipeline


@dataclass(frozen=True)
class Translation:
    """The pipeline model (None when there are problems) and the problems, in words."""

    pipeline: PipelineDef | None
    problems: list[str]
    parameters: dict[str, Any] = field(default_factory=dict)  # PipelineParameter name -> its default


def identifier(text: str) -> str:
    """``text`` as a step, input or output name: letters, digits and ``_``, not starting with a digit."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_") or "step"
    if name[0].isdigit():
        name = "_" + name
    return name + "_" if name in RESERVED_NAMES else name


class PipelineBuilder:
    """Names, parameters and the producer of every output, for the ``StepBuilder`` of each step."""

    def __init__(self, pipeline: Pipeline, overrides: Mapping[str, Any], *, snapshot: bool) -> None:
        self.pipeline = pipeline
        self.workspace = pipeline._workspace._thresher
        self.sources = WorkspaceSources(self.workspace.instance)
        self.snapshot = snapshot
        self.problems: list[str] = []
        self.overrides = dict(overrides)
        self.parameters: dict[str, Any] = {}  # name -> value (the override, else the default)
        self._defaults: dict[str, Any] = {}
        self.steps = self._closure(list(pipeline._steps))
        self.step_names: dict[int, str] = {}
        for step in self.steps:
            base = identifier(_default_name(step))
            name, n = base, 1
            while name in self.step_names.values():
                n += 1
                name = f"{base}_{n}"
            self.step_names[id(step)] = name
        self.writers: dict[int, tuple[str, str]] = {}  # id(output) -> (step, output name)
        unnamed = 0
        for step in self.steps:
            taken: set[str] = set()
            for output in step._produced():
                if id(output) in self.writers:
                    other = self.writers[id(output)][0]
                    self.problems.append(
                        f"output {output.name or '(unnamed)'} is written by both step '{other}' and step "
                        f"'{self.step_names[id(step)]}'; a step reads another's output through .as_input()."
                    )
                    continue
                if output.name:
                    name = identifier(output.name)
                else:
                    unnamed += 1
                    name = f"output_{unnamed}"
                while name in taken:
                    name += "_"
                taken.add(name)
                self.writers[id(output)] = (self.step_names[id(step)], name)

    def _closure(self, listed: list[PipelineStep]) -> list[PipelineStep]:
        steps = list(listed)
        if not self.pipeline.resolve_closure:
            return steps
        index = 0
        while index < len(steps):
            for output in steps[index]._consumed():
                writers = [s for s in output._producers if isinstance(s, PipelineStep)]
                if writers and not any(w is s for w in writers for s in steps):
                    steps.append(writers[0])
            index += 1
        return steps

    def writer_of(self, output: OutputFileDatasetConfig, reader: str) -> tuple[str, str] | None:
        """The step and output name of ``output``; None (a problem recorded) when no step writes it."""
        found = self.writers.get(id(output))
        if found is None:
            self.problems.append(
                f"step '{reader}' reads output {output.name or '(unnamed)'}, which no step of the pipeline writes; "
                "give it to the writing step (in its outputs or arguments) and add that step."
            )
        return found

    def parameter(self, parameter: PipelineParameter) -> Any:
        """The value of ``parameter`` in this submission (its default unless overridden)."""
        name = parameter.name
        if name in self._defaults and self._defaults[name] != parameter.default_value:
            self.problems.append(
                f"PipelineParameter {name!r} is declared twice, with defaults {self._defaults[name]!r} and "
                f"{parameter.default_value!r}; use one PipelineParameter object for it."
            )
        self._defaults.setdefault(name, parameter.default_value)
        value = self.overrides.get(name, parameter.default_value)
        self.parameters[name] = value
        return value

    def build(self, experiment: str) -> Translation:
        """The ``PipelineDef``, or the problems."""
        steps: dict[str, Step] = {}
        for step in self.steps:
            built = StepBuilder(self, step, self.step_names[id(step)]).build()
            if built is not None:
                steps[built.name] = built
        for name in sorted(set(self.overrides) - set(self._defaults)):
            known = ", ".join(sorted(self._defaults)) or "none"
            self.problems.append(
                f"pipeline_parameters names {name!r}, which is no PipelineParameter of the pipeline (its "
                f"parameters: {known})."
            )
        self.problems += _cycles(steps)
        if self.problems:
            return Translation(None, self.problems)
        pipeline = PipelineDef(
            display_name=experiment,
            experiment_name=experiment,
            steps=steps,
            inputs={
                name: Binding.literal(value)
                for name, value in self.parameters.items()
                if value is None or isinstance(value, (str, int, float, bool))  # a dataset parameter is a step input
            },
            source=f"v1 SDK driver {sys.argv[0] or '<python>'}",
            description=self.pipeline.description,
            continue_on_step_failure=self.pipeline.continue_on_step_failure,
        )
        return Translation(pipeline, [], dict(self._defaults))


def translate(pipeline: Pipeline, experiment: str, overrides: Mapping[str, Any], *, snapshot: bool) -> Translation:
    """``pipeline`` as a ``PipelineDef`` for ``experiment`` with the ``pipeline_parameters`` ``overrides``;
    ``snapshot=False`` checks the source folders without storing them."""
    return PipelineBuilder(pipeline, overrides, snapshot=snapshot).build(experiment)


def _default_name(step: PipelineStep) -> str:
    name = step.name or "step"
    script = getattr(step, "script_name", None)
    return name[: -len(".py")] if name == script and name.endswith(".py") else name


def _cycles(steps: Mapping[str, Step]) -> list[str]:
    state: dict[str, int] = {}
    found: list[str] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for upstream in sorted(steps[name].upstream()):
            if state.get(upstream) == 1:
                cycle = [*path[path.index(upstream) :], upstream]
                found.append("steps " + " -> ".join(cycle) + " form a cycle: each waits for the other's output.")
            elif upstream in steps and upstream not in state:
                visit(upstream, [*path, upstream])
        state[name] = 2

    for name in steps:
        if name not in state:
            visit(name, [name])
    return found
