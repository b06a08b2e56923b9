"""A v1 ``ParallelRunStep`` as a thresher ``parallel`` step (``ParallelTask``): Azure's fields mapped onto
the batch engine's settings, with Azure's defaults."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from thresher.pipelines.model import ParallelTask, Step

from ..pipeline.core.graph import PipelineParameter

if TYPE_CHECKING:
    from ..pipeline.steps.parallel_run import ParallelRunStep
    from .steps import StepBuilder

FILES_PER_MINI_BATCH = 10  # Azure's default for a FileDataset input


def parallel_step(builder: StepBuilder, step: ParallelRunStep) -> Step | None:
    """The ``parallel`` step of ``step``; None when it has problems (recorded on the builder)."""
    config = step.parallel_run_config
    root = builder.source(config.source_directory, config.entry_script, "entry_script")

    def value(field: Any) -> Any:
        return builder.p.parameter(field) if isinstance(field, PipelineParameter) else field

    if len(step._inputs) != 1:
        builder.problem(
            f"it has {len(step._inputs)} inputs; thresher cuts mini-batches from one input. Give one input and "
            "pass the others as side_inputs (read whole by every worker)."
        )
        return None
    input_data = builder.data_input(step._inputs[0])
    if input_data is None:
        return None
    if builder.datasets[input_data]["kind"] == "tabular":
        builder.problem(
            f"input {input_data} is tabular; thresher's parallel steps cut FileDataset inputs (lists of files) so "
            "far. Use Dataset.File.from_files and read each file in run(mini_batch)."
        )
    for item in step.side_inputs:
        builder.data_input(item)
    output = builder.output(step.output._output) if step.output is not None else None
    words = [builder.argument(i, a) for i, a in enumerate(step._arguments)]
    size = value(config.mini_batch_size)
    if size is None:
        size = FILES_PER_MINI_BATCH
    elif str(size).isdigit():
        size = int(size)
    else:
        builder.problem(f'mini_batch_size {size!r} is a size; a FileDataset input is cut by file count ("10").')
    if config.allowed_failed_percent not in (None, 100):
        builder.problem(
            "allowed_failed_percent is not supported by thresher; use allowed_failed_count (failed mini-batches) "
            "or error_threshold (failed files)."
        )
    reference, env_hash, note = builder.environment(config.environment)
    variables = {**(getattr(config.environment, "environment_variables", None) or {}), **config.environment_variables}
    processes = value(config.process_count_per_node)
    task = ParallelTask(
        input_data=input_data,
        entry_script=config.entry_script,
        program_arguments=" ".join(w for w in words if w) or None,
        mini_batch_size=size,
        mini_batch_error_threshold=-1 if config.allowed_failed_count is None else int(config.allowed_failed_count),
        error_threshold=int(config.error_threshold),
        instance_count=int(value(config.node_count)),
        max_concurrency_per_instance=int(processes) if processes else os.cpu_count() or 1,
        logging_level=str(value(config.logging_level)).lower(),
        max_retries=int(value(config.run_max_try)) - 1,
        timeout=int(value(config.run_invocation_timeout)),
        append_row_to=output if config.output_action == "append_row" else None,
        output_file_name=config.append_row_file_name,
        partition_keys=tuple(config.partition_keys) if config.partition_keys else None,
        output_action=config.output_action,
    )
    return Step(
        name=builder.name,
        type="parallel",
        component=f"ParallelRunStep {config.entry_script}",
        environment=reference,
        environment_hash=env_hash,
        environment_note=note,
        inputs=builder.inputs,
        outputs=builder.outputs,
        declared_inputs=builder.ports,
        allow_reuse=bool(step.allow_reuse),
        environment_variables=variables,
        compute=builder.compute(config.compute_target),
        parallel=task,
        **builder.code(root),
    )
