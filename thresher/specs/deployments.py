"""Batch deployments: model + optional scoring script + environment + compute + settings.

Azure's three shapes load as they are: ``type: model`` (settings under ``settings:``), ``type: pipeline``
(a pipeline ``component``), and the legacy shape without ``type`` whose settings sit at the top level;
:func:`normalise_deployment` moves those into ``settings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from thresher.specs.assets import BuildContext, CondaFile, ModelType, raise_if_several_env_files
from thresher.specs.batch_settings import BatchSettings, PipelineSettings
from thresher.specs.fields import (
    AssetName,
    EndpointName,
    Kind,
    LocalPath,
    Lowercase,
    ResourceSpec,
    SpecModel,
    TextDict,
    is_uri,
    resolve_path,
    rule_error,
)
from thresher.specs.references import Reference

KeyPath = tuple[str | int, ...]
SETTINGS_KEYS = frozenset(BatchSettings.model_fields)


class InlineModel(SpecModel):
    """A model declared inside the deployment (``model: {name, path}``); registered when deployed."""

    name: AssetName
    version: str | None = None
    path: LocalPath
    type: Annotated[ModelType, Lowercase] = "custom_model"
    description: str | None = None


class InlineEnvironment(SpecModel):
    """An environment declared inside the deployment (``environment: {name, image, conda_file}``)."""

    name: AssetName
    version: str | None = None
    image: str | None = None
    conda_file: CondaFile | None = None
    requirements_file: LocalPath | None = None
    python_env_file: LocalPath | None = None
    build: BuildContext | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _one_dependency_file(self) -> InlineEnvironment:
        raise_if_several_env_files(type(self).__name__, self)
        return self


class CodeConfiguration(SpecModel):
    """``code_configuration:``: the code folder and the scoring script's path inside it."""

    code: LocalPath
    scoring_script: str


class ResourceConfiguration(SpecModel):
    """``resources:``: how many instances (nodes) run workers. Azure-only keys are kept, unused."""

    instance_count: Annotated[int, Field(ge=1)] = 1
    instance_type: str | None = None
    properties: dict[str, Any] | None = None
    shm_size: str | None = None
    docker_args: str | None = None
    max_instance_count: Annotated[int, Field(ge=1)] | None = None
    locations: list[str] | None = None


def _reference_or(inline: str) -> Any:
    def pick(value: Any) -> str | None:
        if isinstance(value, str | Reference):
            return "Reference"
        if isinstance(value, Mapping | InlineModel | InlineEnvironment):
            return inline
        return None

    return pick


_REFERENCE_FORMS = "a reference such as azureml:<name>:<version> or azureml:<name>@latest"

ModelField = Annotated[
    Annotated[Reference, Tag("Reference")] | Annotated[InlineModel, Tag("InlineModel")],
    Discriminator(
        _reference_or("InlineModel"),
        custom_error_type="spec_value",
        custom_error_message=f"it must be {_REFERENCE_FORMS}, or an inline model with name and path.",
    ),
]
EnvironmentField = Annotated[
    Annotated[Reference, Tag("Reference")] | Annotated[InlineEnvironment, Tag("InlineEnvironment")],
    Discriminator(
        _reference_or("InlineEnvironment"),
        custom_error_type="spec_value",
        custom_error_message=f"it must be {_REFERENCE_FORMS}, or an inline environment.",
    ),
]


class BatchDeploymentSpec(ResourceSpec):
    """A batch deployment (``modelBatchDeployment.schema.json``, ``batchDeployment.schema.json``, ...).

    - ``endpoint_name`` is lowercased as Azure's SDK does (the CLI fills it from ``-e``).
    - Top-level ``environment_variables`` (accepted by Azure's SDK) merge into
      ``settings.environment_variables``.
    - ``settings.instance_count``, when given, overrides ``resources.instance_count``.
    - For ``type: pipeline`` the ``settings:`` mapping holds pipeline-job defaults; it is read into
      ``pipeline_settings`` and written back as ``settings:``, so ``settings`` is always a
      :class:`BatchSettings` (left at its defaults, unused, for pipelines).
    - Inline models and environments without a name (Azure registers them anonymously) are named after
      the deployment: ``<name>-model``, ``<name>-env``.
    """

    kind: ClassVar[Kind] = "batch_deployment"

    name: AssetName
    endpoint_name: EndpointName | None = None
    description: str | None = None
    tags: TextDict = Field(default_factory=dict)
    properties: TextDict = Field(default_factory=dict)
    type: Annotated[Literal["model", "pipeline"], Lowercase] | None = None
    model: ModelField | None = None
    code_configuration: CodeConfiguration | None = None
    environment: EnvironmentField | None = None
    compute: Reference | None = None
    resources: ResourceConfiguration = Field(default_factory=ResourceConfiguration)
    settings: BatchSettings = Field(default_factory=BatchSettings)
    component: str | dict[str, Any] | None = None
    job_definition: str | None = None  # type: pipeline: azureml:<pipeline job> to deploy instead of a component
    pipeline_settings: PipelineSettings | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        normalised, _, conflicts = normalise_deployment(data)
        if conflicts:
            raise ValueError("; ".join(f"{'.'.join(map(str, path))} {message}" for path, message in conflicts))
        return normalised

    @field_validator("compute", mode="before")
    @classmethod
    def _bare_compute_name(cls, value: Any) -> Any:
        # Azure accepts `compute: batch-cluster` as well as `compute: azureml:batch-cluster`.
        if isinstance(value, str) and not value.startswith("azureml:") and not is_uri(value):
            return f"azureml:{value}"
        return value

    @field_validator("component", mode="before")
    @classmethod
    def _component(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and not isinstance(value, str | dict):
            raise ValueError(
                f"is {value!r}; it must be a reference (azureml:<name>:<version>), the path of a "
                "component YAML file, or an inline component."
            )
        if isinstance(value, str) and value.endswith((".yml", ".yaml")):
            return resolve_path(value, info)
        return value

    @model_validator(mode="after")
    def _rules(self) -> BatchDeploymentSpec:
        error = rule_error(type(self).__name__, self._violations())
        if error is not None:
            raise error
        count = self.settings.instance_count
        if count is not None and count != self.resources.instance_count:
            # settings.instance_count wins; the model is frozen, so write through object.
            object.__setattr__(self, "resources", self.resources.model_copy(update={"instance_count": count}))
        return self

    @model_serializer(mode="wrap")
    def _document(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        document: dict[str, Any] = handler(self)
        if self.type == "pipeline":
            # A pipeline deployment's settings are its pipeline settings, under `settings:` as Azure writes.
            document.pop("settings", None)
            pipeline_settings = document.pop("pipeline_settings", None)
            if pipeline_settings is not None:
                document["settings"] = pipeline_settings
        return document

    def _violations(self) -> list[tuple[str, str]]:
        if self.type != "pipeline":
            return [
                (key, "is set, but only type: pipeline deployments use it.")
                for key in ("component", "job_definition", "pipeline_settings")
                if getattr(self, key) is not None
            ]
        found = [
            (key, f"is set, but a type: pipeline deployment does not use {key}; its component does.")
            for key in ("model", "code_configuration", "environment")
            if getattr(self, key) is not None
        ]
        if self.component is None and self.job_definition is None:
            found.append(
                (
                    "component",
                    "required key 'component' is missing; type: pipeline needs a component (or a "
                    "job_definition: azureml:<pipeline job>).",
                )
            )
        elif self.component is not None and self.job_definition is not None:
            found.append(("job_definition", "is set together with component; give one of them."))
        return found

    @classmethod
    def misplaced_key_hint(cls, key: str) -> str | None:
        """Why a top-level key is unknown when it is a setting (``type: model`` keeps them under settings)."""
        if key in SETTINGS_KEYS:
            return f"it is a setting, and when type: is given settings go under settings: (settings.{key})."
        return None


def normalise_deployment(
    data: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[KeyPath, KeyPath], list[tuple[KeyPath, str]]]:
    """Bring Azure's deployment shapes to one: ``(data, moved, conflicts)``.

    Legacy deployments (no ``type``) have their top-level settings moved under ``settings``; top-level
    ``environment_variables`` merge into ``settings.environment_variables``; a pipeline deployment's
    ``settings`` become ``pipeline_settings``. ``moved`` maps each new key path to where the key was
    written, so problems point at the user's line; ``conflicts`` lists keys given both at the top level
    and under ``settings``.
    """
    out = dict(data)
    moved: dict[KeyPath, KeyPath] = {}
    conflicts: list[tuple[KeyPath, str]] = []
    kind = out.get("type")
    kind = kind.lower() if isinstance(kind, str) else kind
    name_inline_assets(out)
    if kind == "pipeline":
        if "settings" in out and "pipeline_settings" not in out:
            out["pipeline_settings"] = out.pop("settings")
            moved[("pipeline_settings",)] = ("settings",)
        return out, moved, conflicts
    top = [key for key in out if key in SETTINGS_KEYS] if kind is None else ["environment_variables"]
    top = [key for key in top if key in out]
    settings = out.get("settings", {})
    if not top or not isinstance(settings, Mapping):
        return out, moved, conflicts
    settings = dict(settings)
    for key in top:
        value = out.pop(key)
        if key not in settings:
            settings[key] = value
            moved[("settings", key)] = (key,)
        elif key == "environment_variables" and isinstance(value, Mapping) and isinstance(settings[key], Mapping):
            merged = dict(settings[key])
            for variable, text in value.items():
                if variable in merged:
                    conflicts.append(((key, variable), "is set both here and under settings; keep one."))
                else:
                    merged[variable] = text
                    moved[("settings", key, variable)] = (key, variable)
            settings[key] = merged
        else:
            conflicts.append(((key,), "is set both at the top level and under settings; keep one."))
    out["settings"] = settings
    return out, moved, conflicts


def name_inline_assets(out: dict[str, Any]) -> None:
    """Name unnamed inline assets after the deployment (``<name>-model``, ``<name>-env``), in place.

    Azure registers them anonymously; a name lets thresher register them as versions of one asset.
    """
    name = out.get("name")
    for key, suffix in (("model", "model"), ("environment", "env")):
        value = out.get(key)
        if isinstance(value, Mapping) and "name" not in value and isinstance(name, str):
            out[key] = {"name": f"{name}-{suffix}", **value}
