"""``settings:`` of a batch deployment, with Azure's defaults, and of a pipeline deployment."""

from __future__ import annotations

import re
import shlex
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from thresher.runtime.protocol import OutputAction, OutputFormat
from thresher.specs.fields import Lowercase, SpecModel, TextDict, rule_error

DEFAULT_OUTPUT_FILE_NAME = "predictions.csv"

_SIZE = re.compile(r"^(\d+)\s*(b|kb|mb|gb)$", re.IGNORECASE)
_ROWS = re.compile(r"^(\d+)\s*rows?$", re.IGNORECASE)
_MINI_BATCH_RULE = (
    "it must be a number of files (at least 1), a size such as '1MB' or '100kb', or a row count such as '5000 rows'."
)


def _mini_batch_size(value: Any) -> int | str:
    """Files per mini-batch (int), or for tabular data a size ('1mb') or a row count ('5000 rows')."""
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            value = int(text)
        elif (size := _SIZE.match(text)) and int(size.group(1)) >= 1:
            return f"{int(size.group(1))}{size.group(2).lower()}"
        elif (rows := _ROWS.match(text)) and int(rows.group(1)) >= 1:
            return f"{int(rows.group(1))} rows"
        else:
            raise ValueError(f"is '{value}'; {_MINI_BATCH_RULE}")
    if isinstance(value, bool):
        raise ValueError(f"is {str(value).lower()}; {_MINI_BATCH_RULE}")
    if not isinstance(value, int):
        raise ValueError(f"is {value!r}; {_MINI_BATCH_RULE}")
    if value < 1:
        raise ValueError(f"is {value}; it must be at least 1.")
    return value


MiniBatchSize = Annotated[int | str, BeforeValidator(_mini_batch_size)]
"""An int (files per mini-batch, at least 1) or a normalised string: '1mb', '100kb', '5000 rows'."""


class RetrySettings(SpecModel):
    """``retry_settings:``: retries after the first try of a mini-batch, and the timeout of one ``run()``."""

    max_retries: Annotated[int, Field(ge=0)] = 3
    timeout: Annotated[int, Field(ge=1)] = 30


class BatchSettings(SpecModel):
    """``settings:`` of a model deployment, with Azure's defaults, plus thresher's extensions.

    ``output_file_name`` defaults to ``predictions.csv`` for ``append_row``; with ``summary_only`` no
    predictions file is written, so it is None, and setting it is an error (as in Azure's SDK).
    ``instance_count``, when given, overrides the deployment's ``resources.instance_count``.
    Extensions: ``output_format`` (``azure`` is Azure's space-separated lines; ``mlflow`` what Azure's
    no-code MLflow driver writes, which no-code deployments use for ``azure``), ``isolate_failures``
    (retry a failed multi-item mini-batch in halves), ``program_arguments``, ``partition_keys``.
    """

    mini_batch_size: MiniBatchSize = 10
    max_concurrency_per_instance: Annotated[int, Field(ge=1)] = 1
    instance_count: Annotated[int, Field(ge=1)] | None = None
    error_threshold: Annotated[int, Field(ge=-1)] = -1
    allowed_failed_count: Annotated[int, Field(ge=-1)] = -1
    allowed_failed_percent: Annotated[float, Field(ge=0, le=100)] = 100.0
    logging_level: Annotated[Literal["debug", "info", "warning"], Lowercase] = "info"
    retry_settings: RetrySettings = Field(default_factory=RetrySettings)
    output_action: Annotated[OutputAction, Lowercase] = OutputAction.APPEND_ROW
    output_file_name: str | None = None
    environment_variables: TextDict = Field(default_factory=dict)
    output_format: Annotated[OutputFormat, Lowercase] = OutputFormat.AZURE
    isolate_failures: bool = True
    program_arguments: str | None = None
    partition_keys: list[str] | None = None

    def arguments(self) -> list[str]:
        """``program_arguments`` split as a shell would (what the script finds in ``sys.argv``)."""
        return shlex.split(self.program_arguments or "")

    @model_validator(mode="before")
    @classmethod
    def _default_output_file_name(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("output_file_name") is not None:
            return data
        action = data.get("output_action", "append_row")
        if isinstance(action, str) and action.lower() == "append_row":
            return {**data, "output_file_name": DEFAULT_OUTPUT_FILE_NAME}
        return data

    @field_validator("output_file_name")
    @classmethod
    def _file_name_only(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or "/" in value or "\\" in value):
            raise ValueError(f"is '{value}'; it must be a file name such as predictions.csv, not a path.")
        return value

    @model_validator(mode="after")
    def _summary_only_writes_no_file(self) -> BatchSettings:
        if self.output_action == "summary_only" and self.output_file_name is not None:
            error = rule_error(
                type(self).__name__,
                [
                    (
                        "output_file_name",
                        f"is '{self.output_file_name}', but output_action is summary_only, which writes no "
                        "predictions file; remove output_file_name or use output_action: append_row.",
                    )
                ],
            )
            assert error is not None
            raise error
        return self


class PipelineSettings(SpecModel):
    """``settings:`` of a ``type: pipeline`` deployment: pipeline-job defaults."""

    default_compute: str | None = None
    default_datastore: str | None = None
    continue_on_step_failure: bool | None = None
    force_rerun: bool | None = None
