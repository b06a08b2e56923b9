"""What the ``thresher`` MLflow deployment target is given, read: ``--config`` keys, model URIs, predict inputs.

``mlflow deployments create -t thresher -C instance_count=2 -C type=batch ...`` passes every ``-C`` as text;
``read_config`` checks them all at once and turns them into ``--set``-style overrides of the deployment
document (the values read as YAML scalars, as ``--set`` reads them), so the spec layer validates them
with its own messages. A key may also be a dotted path of the deployment YAML
(``-C request_settings.max_queue_wait_ms=100``), and ``deploy-config-file`` names a JSON or YAML file of
deployment keys (Azure's MLflow target takes the same file).
"""

from __future__ import annotations

import enum
import json
import os
import textwrap
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST

from thresher.specs.overrides import parse_value
from thresher.specs.yamlio import read_yaml

SCHEME = "thresher"


class TargetType(str, enum.Enum):
    """Where a deployment serves: an online endpoint (requests) or a batch endpoint (jobs)."""

    ONLINE = "online"
    BATCH = "batch"


# The short config keys, and where each goes in the deployment document.
ONLINE_KEYS = {
    "instance_count": "instance_count",
    "instance_type": "instance_type",
    "request_timeout_ms": "request_settings.request_timeout_ms",
    "max_concurrent_requests_per_instance": "request_settings.max_concurrent_requests_per_instance",
    "environment": "environment",
}
BATCH_KEYS = {
    "instance_count": "resources.instance_count",
    "mini_batch_size": "settings.mini_batch_size",
    "max_concurrency_per_instance": "settings.max_concurrency_per_instance",
    "error_threshold": "settings.error_threshold",
    "output_action": "settings.output_action",
    "output_file_name": "settings.output_file_name",
    "environment": "environment",
    "compute": "compute",
}
# Keys about the call itself rather than the deployment document.
TYPE = "type"
MODEL_NAME = "model_name"
DEPLOY_CONFIG_FILE = "deploy-config-file"
ENDPOINT_CONFIG_FILE = "endpoint-config-file"
TAKE_OVER = {TargetType.ONLINE: "all_traffic", TargetType.BATCH: "set_default"}
MLFLOW_BODY_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


@dataclass(frozen=True)
class TargetConfig:
    """``--config`` of create/update, checked: the type, and what to change in the deployment document."""

    type: TargetType
    model_name: str | None = None
    take_over: bool | None = None  # all_traffic (online) / set_default (batch); None: only when nothing is served
    file_document: dict[str, Any] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()

    def document(self, base: Mapping[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
        """``base`` with the config file's keys, then each ``-C`` key, applied; ``fixed`` (name, endpoint) last."""
        from thresher.specs import apply_overrides

        merged = apply_overrides({**dict(base), **self.file_document}, self.overrides)
        merged.update(fixed)
        return merged


def read_config(config: Mapping[str, Any] | None, *, current: TargetType | None = None) -> TargetConfig:
    """Check ``config`` (every problem at once, as one MlflowException); ``current``: the type being updated."""
    given = {str(k): v for k, v in (config or {}).items()}
    problems: list[str] = []
    raw_type = str(given.get(TYPE) or (current.value if current else TargetType.ONLINE.value)).lower()
    try:
        kind = TargetType(raw_type)
    except ValueError:
        problems.append(f"type is '{raw_type}'; it must be online or batch.")
        kind = TargetType.ONLINE
    if current is not None and kind is not current:
        problems.append(
            f"type is {kind.value}, but the deployment is a {current.value} deployment; a deployment "
            "cannot change type (delete it and create it again)."
        )
    keys = ONLINE_KEYS if kind is TargetType.ONLINE else BATCH_KEYS
    overrides: list[str] = []
    take_key = TAKE_OVER[kind]
    for key, value in given.items():
        if key in (TYPE, MODEL_NAME, DEPLOY_CONFIG_FILE, take_key):
            continue
        if key in TAKE_OVER.values():
            other = TargetType.BATCH if kind is TargetType.ONLINE else TargetType.ONLINE
            problems.append(f"{key} applies to {other.value} deployments; this one is {kind.value} (use {take_key}).")
        elif key in keys:
            overrides.append(f"{keys[key]}={value}")
        elif "." in key:
            overrides.append(f"{key}={value}")
        else:
            known = ", ".join([*keys, TYPE, MODEL_NAME, DEPLOY_CONFIG_FILE, take_key])
            problems.append(
                f"'{key}' is not a config key of {kind.value} deployments; the keys are: {known} (or a dotted path "
                "of the deployment YAML, such as request_settings.max_queue_wait_ms)."
            )
    take_over = _flag(given.get(take_key), take_key, problems)
    document: dict[str, Any] = {}
    if given.get(DEPLOY_CONFIG_FILE):
        document = _config_file(str(given[DEPLOY_CONFIG_FILE]), DEPLOY_CONFIG_FILE, problems)
    if problems:
        raise MlflowException(
            "The thresher target's --config has problems:\n"
            + "\n".join(f"  {p}" for p in problems)
            + "\nSee: mlflow deployments help -t thresher",
            error_code=INVALID_PARAMETER_VALUE,
        )
    model_name = str(given[MODEL_NAME]) if given.get(MODEL_NAME) else None
    return TargetConfig(kind, model_name, take_over, document, tuple(overrides))


def endpoint_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """``create_endpoint``/``update_endpoint`` config: endpoint keys, and ``endpoint-config-file``'s keys under them."""
    given = {str(k): v for k, v in (config or {}).items()}
    problems: list[str] = []
    document: dict[str, Any] = {}
    if given.get(ENDPOINT_CONFIG_FILE):
        document = _config_file(str(given.pop(ENDPOINT_CONFIG_FILE)), ENDPOINT_CONFIG_FILE, problems)
    for key, value in given.items():
        document[key] = parse_value(value) if isinstance(value, str) else value
    for key in ("traffic", "mirror_traffic"):
        if key in document:
            document[key] = _shares(document[key], key, problems)
    if problems:
        raise MlflowException("\n".join(problems), error_code=INVALID_PARAMETER_VALUE)
    return document


def _shares(value: Any, key: str, problems: list[str]) -> dict[str, int]:
    """A traffic split: a mapping, JSON text, or ``blue=90,green=10``."""
    if isinstance(value, str) and "=" in value:
        value = dict(part.split("=", 1) for part in value.split(",") if part.strip())
    if isinstance(value, str) and value.strip() in ("", "{}"):
        value = {}
    if not isinstance(value, Mapping):
        problems.append(f'{key} is {value!r}; write it as blue=90,green=10 or as JSON: {{"blue": 90, "green": 10}}.')
        return {}
    try:
        return {str(name).strip(): int(share) for name, share in value.items()}
    except (TypeError, ValueError):
        problems.append(f"{key} is {value!r}; each deployment's share must be a whole percent.")
        return {}


def _flag(value: Any, key: str, problems: list[str]) -> bool | None:
    if value is None:
        return None
    parsed = parse_value(value) if isinstance(value, str) else value
    if not isinstance(parsed, bool):
        problems.append(f"{key} is {value!r}; it must be true or false.")
        return None
    return parsed


def _config_file(path: str, key: str, problems: list[str]) -> dict[str, Any]:
    file = Path(path).expanduser()
    if not file.is_file():
        problems.append(f"{key} is {path}, which is not a file.")
        return {}
    document, _ = read_yaml(file, str(file))  # JSON is YAML too
    return document


def model_folder(model_uri: str, scratch: Path) -> Path:
    """The local folder of ``model_uri``: a path or file:// URI as is; runs:/ and models:/ downloaded from the
    configured tracking server into ``scratch``; other URIs (s3://, ...) downloaded by MLflow's artifact stores."""
    parsed = urllib.parse.urlparse(model_uri)
    if parsed.scheme in ("", "file") or len(parsed.scheme) == 1:  # a path, a file URI, or a Windows drive
        local = Path(urllib.request.url2pathname(parsed.path)) if parsed.scheme == "file" else Path(model_uri)
        local = local.expanduser().resolve()
        if not local.exists():
            raise MlflowException(
                f"Model URI {model_uri} names {local}, which does not exist. Pass the folder written by "
                "mlflow.<flavor>.save_model (the one holding MLmodel), or a runs:/ or models:/ URI.",
                error_code=RESOURCE_DOES_NOT_EXIST,
            )
        return local
    if parsed.scheme in ("runs", "models") and not _tracking_uri_set():
        raise MlflowException(
            f"Model URI {model_uri} names a model of an MLflow tracking server, and no tracking server is set. "
            "Set MLFLOW_TRACKING_URI (or call mlflow.set_tracking_uri) to the server that holds it, or pass the "
            "model's local folder instead.",
            error_code=INVALID_PARAMETER_VALUE,
        )
    from mlflow.artifacts import download_artifacts

    scratch.mkdir(parents=True, exist_ok=True)
    return Path(download_artifacts(artifact_uri=model_uri, dst_path=str(scratch)))


def _tracking_uri_set() -> bool:
    try:
        from mlflow.tracking._tracking_service.utils import is_tracking_uri_set
    except ImportError:  # a private helper of MLflow's: fall back on the variable it reads
        return bool(os.environ.get("MLFLOW_TRACKING_URI"))
    return bool(is_tracking_uri_set())  # type: ignore[no-untyped-call]


def request_body(inputs: Any, params: Mapping[str, Any] | None = None) -> bytes:
    """An ``/invocations`` body for ``inputs``, as MLflow's scoring server takes it: a DataFrame as
    ``dataframe_split``, a body that already names one of MLflow's keys as is, anything else (a dict of
    named tensors, an array, a list) as ``inputs``; ``params`` added."""
    from mlflow.utils.proto_json_utils import NumpyEncoder

    document: dict[str, Any]
    if _is_frame(inputs):
        document = {"dataframe_split": json.loads(inputs.to_json(orient="split", index=False, date_format="iso"))}
    elif isinstance(inputs, Mapping) and any(key in inputs for key in MLFLOW_BODY_KEYS):
        document = dict(inputs)
    elif inputs is None:
        raise MlflowException(
            "predict needs inputs (a DataFrame, a dict, a list or an array).", INVALID_PARAMETER_VALUE
        )
    else:
        document = {"inputs": inputs.tolist() if hasattr(inputs, "tolist") else inputs}
    if params:
        document["params"] = dict(params)
    return json.dumps(document, cls=NumpyEncoder).encode()


def _is_frame(value: Any) -> bool:
    try:
        import pandas as pd  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return False
    return isinstance(value, pd.DataFrame)


def target_help() -> str:
    """What ``mlflow deployments help -t thresher`` prints: URIs, what create does, every config key."""
    listed = {
        kind.value: textwrap.fill(
            ", ".join([*keys, TAKE_OVER[kind], MODEL_NAME, DEPLOY_CONFIG_FILE]), 108, subsequent_indent="  "
        )
        for kind, keys in ((TargetType.ONLINE, ONLINE_KEYS), (TargetType.BATCH, BATCH_KEYS))
    }
    return _HELP.format(**listed)


_HELP = """\
thresher: deploy MLflow models without code to a thresher workspace's online endpoints (the default) or
batch endpoints.

Target URI
  thresher                      the workspace of THRESHER_HOME, or the server of THRESHER_SERVER (THRESHER_TOKEN)
  thresher:/path/to/workspace   a workspace folder
  thresher:https://host:8080    a thresher server (THRESHER_TOKEN)

Model URI (-m): a model folder or file:// URI; runs:/ and models:/ from the server of MLFLOW_TRACKING_URI;
other artifact URIs (s3://, ...) through MLflow. It is registered as an mlflow_model named after the
deployment (or model_name) and served through python_function.

create --name N [--endpoint E]: deployment N of endpoint E (default: an endpoint named N, created when
missing and deleted with its last deployment). The first deployment of an endpoint takes all its traffic
(online) or becomes its default (batch); later ones when all_traffic / set_default is true.

Config (-C key=value), online (type=online):
  {online}
Config, batch (type=batch):
  {batch}
Any dotted key of the deployment YAML is accepted too (-C request_settings.max_queue_wait_ms=100);
deploy-config-file is a JSON or YAML file of deployment keys; environment is azureml:<name>:<version>
(default: the model's own environment, built once).

predict --name N (that deployment) or --endpoint E (its traffic split) scores online deployments: a
DataFrame is sent as dataframe_split to /invocations; the answer is {{"predictions": ...}}. Batch
deployments are scored by jobs: thresher batch-endpoint invoke -n E --input ./data

Online endpoints: create-endpoint -C auth_mode=key|aml_token; update-endpoint -C traffic=blue=90,green=10
(or -C endpoint-config-file=F, a file holding {{"traffic": {{...}}}}); get-endpoint; list-endpoints;
delete-endpoint.
run-local --name N -m MODEL: serve it from a throwaway workspace until Ctrl-C (-C workspace=DIR: in that one).
"""
