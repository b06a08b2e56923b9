"""Specs: Azure ML v2 (and thresher) YAML files as validated, frozen models.

    load_spec("deployment.yml", "batch_deployment")         -> BatchDeploymentSpec
    parse_spec(document, "model", base_dir=Path.cwd())      -> ModelSpec
    spec.to_document()                                      -> a JSON-able dict parse_spec accepts again

Every problem in a file is reported at once in one SpecError, each with file:line and key path.
"""

from thresher.specs.assets import BuildContext, CodeSpec, DataSpec, EnvironmentSpec, ModelSpec
from thresher.specs.batch_settings import BatchSettings, PipelineSettings, RetrySettings
from thresher.specs.compute import ComputeSpec
from thresher.specs.datastores import DatastoreSpec
from thresher.specs.deployments import (
    BatchDeploymentSpec,
    CodeConfiguration,
    InlineEnvironment,
    InlineModel,
    ResourceConfiguration,
)
from thresher.specs.endpoints import BatchEndpointSpec, EndpointDefaults
from thresher.specs.fields import Kind
from thresher.specs.loader import Spec, load_spec, parse_spec
from thresher.specs.online import (
    BatchingSettings,
    OnlineDeploymentSpec,
    OnlineEndpointSpec,
    ProbeSettings,
    RequestSettings,
    ScaleSettings,
)
from thresher.specs.overrides import apply_overrides
from thresher.specs.references import Reference, parse_reference

__all__ = [
    "BatchDeploymentSpec",
    "BatchEndpointSpec",
    "BatchSettings",
    "BatchingSettings",
    "BuildContext",
    "CodeConfiguration",
    "CodeSpec",
    "ComputeSpec",
    "DataSpec",
    "DatastoreSpec",
    "EndpointDefaults",
    "EnvironmentSpec",
    "InlineEnvironment",
    "InlineModel",
    "Kind",
    "ModelSpec",
    "OnlineDeploymentSpec",
    "OnlineEndpointSpec",
    "PipelineSettings",
    "ProbeSettings",
    "Reference",
    "RequestSettings",
    "ResourceConfiguration",
    "RetrySettings",
    "ScaleSettings",
    "Spec",
    "apply_overrides",
    "load_spec",
    "parse_reference",
    "parse_spec",
]
