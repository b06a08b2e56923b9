"""``azureml.pipeline.steps.ParallelRunConfig`` and ``ParallelRunStep``: the batch engine over one input,
as a thresher ``parallel`` step. The entry script's ``init()``/``run(mini_batch)`` run in worker
processes; ``append_row`` writes what ``run`` returns to ``append_row_file_name`` in the step's output::

    config = ParallelRunConfig(
        source_directory="./score_src", entry_script="score.py", mini_batch_size="2", error_threshold=0,
        output_action="append_row", environment=env, compute_target=compute_target, node_count=1,
    )
    step = ParallelRunStep(name="score", parallel_run_config=config, inputs=[prepared.as_input()],
                           output=scores, side_inputs=[model.as_input("model")], arguments=["--model", ...])

Azure's defaults: ``mini_batch_size`` 10 files, ``run_invocation_timeout`` 60 s, ``run_max_try`` 3,
``logging_level`` INFO, ``append_row_file_name`` parallel_run_step.txt, ``process_count_per_node`` the
number of CPU cores.
"""

from __future__ import annotations

import re
from typing import Any

from ..core.graph import PipelineParameter
from ..core.step import PipelineStep

__all__ = ["ParallelRunConfig", "ParallelRunStep"]

_STEP_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_MINI_BATCH_SIZE = re.compile(r"^\d+([kKmMgG][bB])*$")
_FILE_NAME_FORBIDDEN = set('~"#%&*:<>?/\\{|}')
RESERVED_ARGUMENTS = (
    "mini_batch_size",
    "error_threshold",
    "allowed_failed_count",
    "allowed_failed_percent",
    "output",
    "output_action",
    "logging_level",
    "process_count_per_node",
    "run_invocation_timeout",
    "run_max_try",
    "append_row_file_name",
    "partition_keys",
)


def _literal(value: Any) -> Any:
    return value.default_value if isinstance(value, PipelineParameter) else value


class ParallelRunConfig:
    """How a ``ParallelRunStep`` runs its entry script (Azure's fields, Azure's defaults and checks)."""

    def __init__(
        self,
        environment: Any,
        entry_script: str,
        error_threshold: int,
        output_action: str,
        compute_target: Any,
        node_count: Any,
        process_count_per_node: Any = None,
        mini_batch_size: Any = None,
        source_directory: str | None = None,
        description: str | None = None,
        logging_level: Any = "INFO",
        run_invocation_timeout: Any = 60,
        run_max_try: Any = 3,
        append_row_file_name: str | None = None,
        allowed_failed_count: int | None = None,
        allowed_failed_percent: float | None = None,
        partition_keys: list[str] | None = None,
        environment_variables: dict[str, str] | None = None,
    ) -> None:
        problems = []
        if environment is None:
            problems.append("environment is required (an azureml.core.Environment)")
        if not entry_script:
            problems.append("entry_script is required (the scoring script, relative to source_directory)")
        if not isinstance(error_threshold, int) or error_threshold < -1:
            problems.append(f"error_threshold is {error_threshold!r}; it must be an integer of at least -1")
        if str(output_action).lower() not in ("append_row", "summary_only"):
            problems.append(f"output_action is {output_action!r}; it must be append_row or summary_only")
        size = _literal(mini_batch_size)
        if size is not None and not _MINI_BATCH_SIZE.match(str(size)):
            problems.append(f'mini_batch_size is {size!r}; give a count ("10") or a size ("1MB")')
        if partition_keys and mini_batch_size is not None:
            problems.append("give partition_keys or mini_batch_size, not both")
        if append_row_file_name and _FILE_NAME_FORBIDDEN & set(append_row_file_name):
            problems.append(f'append_row_file_name {append_row_file_name!r} has a character of ~"#%&*:<>?/\\{{|}}')
        if not int(_literal(run_invocation_timeout)) > 0:
            problems.append("run_invocation_timeout must be above 0 seconds")
        if int(_literal(run_max_try)) < 1:
            problems.append("run_max_try must be at least 1")
        if int(_literal(node_count)) < 1:
            problems.append("node_count must be at least 1")
        if str(_literal(logging_level)).upper() not in ("WARNING", "INFO", "DEBUG"):
            problems.append(f"logging_level is {logging_level!r}; it must be WARNING, INFO or DEBUG")
        if allowed_failed_percent is not None and not 0 <= allowed_failed_percent <= 100:
            problems.append("allowed_failed_percent must be between 0 and 100")
        if problems:
            raise ValueError("ParallelRunConfig: " + "; ".join(problems) + ".")
        self.environment = environment
        self.entry_script = entry_script
        self.error_threshold = error_threshold
        self.output_action = str(output_action).lower()
        self.compute_target = compute_target
        self.node_count = node_count
        self.process_count_per_node = process_count_per_node
        self.mini_batch_size = mini_batch_size
        self.source_directory = source_directory
        self.description = description
        self.logging_level = logging_level
        self.run_invocation_timeout = run_invocation_timeout
        self.run_max_try = run_max_try
        self.append_row_file_name = append_row_file_name or "parallel_run_step.txt"
        self.allowed_failed_count = allowed_failed_count
        self.allowed_failed_percent = allowed_failed_percent
        self.partition_keys = list(partition_keys) if partition_keys else None
        self.environment_variables = dict(environment_variables or {})


class ParallelRunStep(PipelineStep):
    """A step that scores its input in mini-batches with ``parallel_run_config``'s entry script."""

    def __init__(
        self,
        name: str,
        parallel_run_config: ParallelRunConfig,
        inputs: list[Any],
        output: Any = None,
        side_inputs: list[Any] | None = None,
        arguments: list[Any] | None = None,
        allow_reuse: bool = True,
    ) -> None:
        if not (3 <= len(name) <= 32 and _STEP_NAME.match(name)):
            raise ValueError(
                f"ParallelRunStep name {name!r}: it must be 3 to 32 characters of lowercase letters, digits and '-', "
                "starting with a letter and not ending with '-'."
            )
        words = [str(a) for a in arguments or [] if isinstance(a, str)]
        if arguments and not (isinstance(arguments[0], str) and arguments[0].startswith("-")):
            raise ValueError("ParallelRunStep arguments must be keyword style: the first must start with '-'.")
        reserved = sorted({w.lstrip("-") for w in words if w.startswith("-") and w.lstrip("-") in RESERVED_ARGUMENTS})
        if reserved:
            raise ValueError("ParallelRunStep arguments use reserved names: {}.".format(", ".join(reserved)))
        self.parallel_run_config = parallel_run_config
        self.side_inputs = list(side_inputs or [])
        self.output = output
        super().__init__(name, inputs, [output] if output is not None else [], arguments, allow_reuse)

    def _input_items(self) -> list[Any]:
        return list(self._inputs) + list(self.side_inputs)
