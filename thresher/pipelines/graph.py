"""Checks on a pipeline's wiring, before anything runs: references to steps and outputs that exist,
types that fit, and no cycle. Problems go to the file and line of the binding that causes them."""

from __future__ import annotations

from collections.abc import Mapping

from thresher.pipelines.components import Doc
from thresher.pipelines.model import PipelineDef
from thresher.specs.yamlio import KeyPath

_FILES = {"uri_file", "uri_folder"}


def check_graph(
    pipeline: PipelineDef,
    where: Mapping[tuple[str, str], tuple[Doc, KeyPath]],
    step_docs: Mapping[str, Doc],
    doc: Doc,
) -> None:
    """Record every wiring problem of ``pipeline`` (at the binding's key when known, else at ``doc``)."""
    for step in pipeline.steps.values():
        for input_name, binding in step.inputs.items():
            if binding.kind != "step_output":
                continue
            at, keys = where.get((step.name, input_name), (step_docs.get(step.name, doc), ("inputs", input_name)))
            upstream = pipeline.steps.get(binding.step or "")
            if upstream is None:
                at.problem(
                    keys, f"refers to step {binding.step!r}, which does not exist (steps: {', '.join(pipeline.steps)})."
                )
                continue
            output = upstream.outputs.get(binding.output or "")
            if output is None:
                at.problem(
                    keys,
                    f"refers to output {binding.output!r} of step {binding.step!r}, which has no such "
                    f"output (its outputs: {', '.join(upstream.outputs) or 'none'}).",
                )
                continue
            port = step.declared_inputs.get(input_name)
            if port is None or port.type == "any":
                continue
            if not port.is_data:
                at.problem(
                    keys,
                    f"binds output {binding.output!r} of step {binding.step!r} (a {output.type}) to "
                    f"input {input_name!r}, which is a {port.type}; a step output is files.",
                )
            elif {port.type, output.type} <= _FILES and port.type != output.type:
                at.problem(
                    keys,
                    f"binds output {binding.output!r} of step {binding.step!r}, a {output.type}, to "
                    f"input {input_name!r}, a {port.type}; make both uri_file or both uri_folder.",
                )
    for cycle in _cycles(pipeline):
        first = cycle[0]
        step_docs.get(first, doc).problem(
            (),
            "steps " + " -> ".join([*cycle, first]) + " form a cycle: each waits "
            "for the other's output; remove one of the bindings.",
        )
    bound = {o.pipeline_output for s in pipeline.steps.values() for o in s.outputs.values() if o.pipeline_output}
    for name in pipeline.outputs:
        if name not in bound:
            doc.sub("outputs").problem(
                (name,),
                f"pipeline output {name!r} is bound to no step output; bind one "
                f"with outputs: {{<output>: ${{{{parent.outputs.{name}}}}}}} in a step.",
            )


def _cycles(pipeline: PipelineDef) -> list[list[str]]:
    """Each cycle once, as the list of its steps."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []
    found: list[list[str]] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for upstream in sorted(pipeline.steps[name].upstream()):
            if upstream not in pipeline.steps:
                continue
            if state.get(upstream) == 1:
                found.append(path[path.index(upstream) :])
            elif upstream not in state:
                visit(upstream)
        path.pop()
        state[name] = 2

    for name in pipeline.steps:
        if name not in state:
            visit(name)
    return found
