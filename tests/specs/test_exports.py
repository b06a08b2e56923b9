"""The public names of thresher.specs: other packages and users import exactly these."""

from __future__ import annotations

import thresher.specs


def test_public_names_are_pinned() -> None:
    assert sorted(thresher.specs.__all__) == [
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
    for name in thresher.specs.__all__:
        assert getattr(thresher.specs, name) is not None
