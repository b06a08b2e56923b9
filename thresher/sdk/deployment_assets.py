"""What a deployment (batch or online) refers to, checked and made durable before it is saved.

A reference (``azureml:name:3``, ``azureml:name@latest``) must name an existing asset; an inline model
or environment is registered; the code folder is snapshotted into the default datastore, so that a
deployment keeps running the code it was created with. References are checked together, so that one
error lists every missing asset (``raise_missing``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from thresher.errors import NotFoundError
from thresher.instance import Instance
from thresher.sdk.assets import EnvironmentOperations, ModelOperations
from thresher.specs import (
    CodeConfiguration,
    EnvironmentSpec,
    InlineEnvironment,
    InlineModel,
    ModelSpec,
    Reference,
)
from thresher.storage import load_ignore
from thresher.store import AssetRecord


def reference(record: AssetRecord) -> str:
    """``azureml:<name>:<version>``: how a stored deployment names the exact version it uses."""
    return f"azureml:{record.name}:{record.version}"


class DeploymentAssets:
    """A deployment's model, environment and code: references checked, inline assets registered, code stored."""

    def __init__(self, instance: Instance, models: ModelOperations, environments: EnvironmentOperations) -> None:
        self._instance = instance
        self._models = models
        self._environments = environments

    def model(self, model: Reference | InlineModel, problems: list[str]) -> AssetRecord | None:
        """The model version a deployment uses (an inline one registered); None, with a problem, if missing."""
        if isinstance(model, Reference):
            return _found(lambda: self._models.get(model.name, model.version), "model", problems)
        return self._models.create(
            ModelSpec(
                name=model.name,
                version=model.version,
                path=model.path,
                type=model.type,
                description=model.description,
            )
        )

    def environment(self, environment: Reference | InlineEnvironment, problems: list[str]) -> AssetRecord | None:
        """The environment version a deployment uses (an inline one registered); None, with a problem, if missing."""
        if isinstance(environment, Reference):
            return _found(
                lambda: self._environments.get(environment.name, environment.version), "environment", problems
            )
        return self._environments.create(
            EnvironmentSpec(
                name=environment.name,
                version=environment.version,
                image=environment.image,
                conda_file=environment.conda_file,
                requirements_file=environment.requirements_file,
                python_env_file=environment.python_env_file,
                description=environment.description,
            )
        )

    def code(self, configuration: CodeConfiguration) -> dict[str, str]:
        """``code_configuration`` with the code folder snapshotted into the default datastore (its stored path).

        NotFoundError when the scoring script is not in the folder.
        """
        code = Path(configuration.code)
        script = code / configuration.scoring_script
        if not script.is_file():
            raise NotFoundError(
                f"Scoring script {configuration.scoring_script!r} is not in the code folder {code}.",
                fix="Check code_configuration.code and code_configuration.scoring_script "
                "(the script path is relative to the code folder).",
            )
        stored = self._instance.datastore().put_content(code, ignore=load_ignore(code))
        return {"code": str(stored.path), "scoring_script": configuration.scoring_script}


def raise_missing(deployment: str, problems: list[str]) -> None:
    """One NotFoundError listing everything the deployment refers to that does not exist (if anything)."""
    if problems:
        raise NotFoundError(
            f"Deployment '{deployment}' refers to what does not exist:\n" + "\n".join(f"  {p}" for p in problems),
            fix="Register the missing assets (thresher model|environment|compute create ...) or correct the "
            "references, then run the command again.",
        )


def _found(lookup: Callable[[], AssetRecord], what: str, problems: list[str]) -> AssetRecord | None:
    try:
        return lookup()
    except NotFoundError as exc:
        problems.append(f"{what}: {exc}")
        return None
