"""``azureml.pipeline.core.PipelineStep``: what every step has, and which data it writes and reads.

A step writes the outputs in its ``outputs`` and the ``OutputFileDatasetConfig`` / ``PipelineData``
objects written plainly in its ``arguments`` (unless it lists them in ``inputs``); it reads its
``inputs``, and the other steps' outputs its arguments take through ``.as_input()``. Those links are
the pipeline's graph: a step runs after the steps whose outputs it reads.
"""

from __future__ import annotations

from typing import Any

from ...data.dataset_consumption_config import DatasetConsumptionConfig
from ...data.output_dataset_config import OutputDatasetConfig, OutputFileDatasetConfig

__all__ = ["PipelineStep"]


def underlying(item: Any) -> OutputFileDatasetConfig | None:
    """The output an item stands for (a config, its tabular reading, or an input made of it); None if none."""
    if isinstance(item, DatasetConsumptionConfig):
        item = item.dataset
    if isinstance(item, OutputDatasetConfig):
        return item._output
    return None


class PipelineStep:
    """A step: its name, arguments, inputs and outputs, and whether its results may be reused."""

    def __init__(
        self,
        name: str | None,
        inputs: list[Any] | None = None,
        outputs: list[Any] | None = None,
        arguments: list[Any] | None = None,
        allow_reuse: bool = True,
    ) -> None:
        self.name = name
        self._inputs = list(inputs or [])
        self._outputs = list(outputs or [])
        self._arguments = list(arguments or [])
        self.allow_reuse = allow_reuse
        for output in self._produced():
            output._producers.append(self)

    @property
    def inputs(self) -> list[Any]:
        """The step's declared inputs."""
        return list(self._inputs)

    @property
    def outputs(self) -> list[Any]:
        """The step's declared outputs."""
        return list(self._outputs)

    @property
    def arguments(self) -> list[Any]:
        """The step's command-line arguments."""
        return list(self._arguments)

    def _input_items(self) -> list[Any]:
        return list(self._inputs)

    def _produced(self) -> list[OutputFileDatasetConfig]:
        """The outputs this step writes, each once, in the order they appear."""
        read = {id(underlying(item)) for item in self._input_items() if underlying(item) is not None}
        found: list[OutputFileDatasetConfig] = []
        for item in self._outputs:
            output = underlying(item)
            if output is not None and all(output is not f for f in found):
                found.append(output)
        for item in self._arguments:
            written = isinstance(item, OutputDatasetConfig) and id(item._output) not in read
            if written and all(item._output is not f for f in found):
                found.append(item._output)
        return found

    def _consumed(self) -> list[OutputFileDatasetConfig]:
        """The outputs of other steps this step reads."""
        items = self._input_items() + [a for a in self._arguments if isinstance(a, DatasetConsumptionConfig)]
        produced = self._produced()
        found: list[OutputFileDatasetConfig] = []
        for item in items:
            output = underlying(item)
            if output is not None and all(output is not p for p in produced) and all(output is not f for f in found):
                found.append(output)
        return found

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
