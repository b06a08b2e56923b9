"""``Experiment.submit`` / ``Pipeline.submit``: translate, report every problem at once, queue the job."""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import TYPE_CHECKING, Any

from thresher.errors import ThresherError

from .translate import translate
from .workspace import user_error

if TYPE_CHECKING:
    from ..pipeline.core.pipeline import Pipeline
    from ..pipeline.core.run import PipelineRun


def submit(
    pipeline: Pipeline,
    experiment: str,
    parameters: dict[str, Any],
    *,
    continue_on_step_failure: bool,
    regenerate_outputs: bool,
    tags: dict[str, str] | None,
) -> PipelineRun:
    """Queue ``pipeline`` as a pipeline job of ``experiment``; ``UserErrorException`` listing every problem
    when it has any (then nothing runs)."""
    from ..exceptions import UserErrorException
    from ..pipeline.core.run import PipelineRun

    translation = translate(pipeline, experiment, parameters, snapshot=True)
    if translation.pipeline is None:
        listed = "\n".join(f"  - {problem}" for problem in translation.problems)
        count = len(translation.problems)
        raise UserErrorException(
            f"Pipeline of experiment '{experiment}' cannot be submitted: {count} problem{'s' * (count != 1)}:\n"
            f"{listed}\nNothing was run; fix them and submit again."
        )
    definition = dataclasses.replace(
        translation.pipeline, continue_on_step_failure=continue_on_step_failure, tags=dict(tags or {})
    )
    ws = pipeline._workspace._thresher
    try:
        record = ws.pipelines.submit(
            definition,
            experiment_name=experiment,
            regenerate_outputs=regenerate_outputs,
            extra={"v1_driver": os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else None},
        )
    except ThresherError as exc:
        raise user_error(exc) from None
    print(f"Submitted PipelineRun {record.name}")
    print(f"Follow it with: thresher job stream --name {record.name}", flush=True)
    return PipelineRun(pipeline._workspace, experiment, record.name)
