"""``azureml.core.Model``: only what scoring scripts use, ``Model.get_model_path``.

On a batch deployment the registered model is mounted under ``AZUREML_MODEL_DIR/<registered folder>``;
``get_model_path`` returns that folder::

    path = Model.get_model_path("iris")       # $AZUREML_MODEL_DIR/iris (or the only folder there)
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["Model"]


class Model:
    """A registered model, as far as an offline scoring script can see one."""

    def __init__(
        self, workspace: Any = None, name: str | None = None, id: str | None = None, version: int | None = None
    ) -> None:
        self.workspace = workspace
        self.name = name
        self.id = id or (f"{name}:{version}" if name and version is not None else name)
        self.version = version

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None, _workspace: Any = None) -> str:
        """The mounted folder of the deployment's model.

        ``AZUREML_MODEL_DIR/<model_name>`` when it exists; otherwise the only entry there (the folder
        is named after the registered folder, which need not be the model's name). ``version`` is
        accepted for compatibility: the deployment mounts exactly one model version.
        """
        root = os.environ.get("AZUREML_MODEL_DIR")
        if not root:
            raise FileNotFoundError(
                f"Model.get_model_path({model_name!r}): AZUREML_MODEL_DIR is not set, so this deployment "
                "has no model. Add a model to the deployment."
            )
        named = os.path.join(root, model_name)
        if os.path.exists(named):
            return named
        entries = sorted(e for e in os.listdir(root) if not e.startswith("."))
        if len(entries) == 1:
            return os.path.join(root, entries[0])
        shown = ", ".join(repr(e) for e in entries) or "nothing"
        raise FileNotFoundError(
            f"Model.get_model_path({model_name!r}): AZUREML_MODEL_DIR ({root}) has no {model_name!r} and "
            f"holds {shown}; pass one of those names."
        )
