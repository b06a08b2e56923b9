"""Versioned assets: models, environments and data. Local content is copied into the default datastore."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

from thresher.environments import (
    EnvironmentBuild,
    EnvironmentCache,
    asset_environment,
    build_environment,
    current_environment,
    envs_dir,
)
from thresher.environments.conda import load_conda_file
from thresher.environments.resolve import from_asset_info, read_python_env, read_requirements
from thresher.errors import StorageError, StorageUnavailableError
from thresher.instance import Instance
from thresher.specs import DataSpec, EnvironmentSpec, ModelSpec
from thresher.storage import find_mlmodel, fingerprint, read_mlmodel
from thresher.storage.remote_files import RemoteFingerprint, iter_remote_files
from thresher.storage.retry import not_answering, retrying
from thresher.store import AssetRecord


class _AssetOperations:
    kind: str

    def __init__(self, instance: Instance) -> None:
        self._instance = instance

    def get(self, name: str, version: str | None = None) -> AssetRecord:
        """One version (the latest non-archived one when ``version`` is None or ``"latest"``)."""
        return self._instance.store.get_asset(self.kind, name, version)

    def list(self, name: str | None = None, *, include_archived: bool = False) -> builtins.list[AssetRecord]:
        """Every version of ``name``; without a name, the latest version of each name (as ``az ml`` lists)."""
        return self._instance.store.list_assets(
            self.kind, name, include_archived=include_archived, latest_only=name is None
        )

    def archive(self, name: str, version: str | None = None) -> builtins.list[AssetRecord]:
        """Hide a version (or every version) from ``list`` and ``@latest``; it stays usable by exact version."""
        return self._instance.store.set_asset_archived(self.kind, name, version, True)

    def restore(self, name: str, version: str | None = None) -> builtins.list[AssetRecord]:
        """Undo ``archive``."""
        return self._instance.store.set_asset_archived(self.kind, name, version, False)

    def _local_source(self, path: str, what: str) -> Path:
        source = self._instance.resolve_local_path(path)
        if not source.exists():
            raise StorageError(
                f"The {what} path {path!r} does not exist (looked at {source}).",
                fix="Check the path; relative paths in a YAML file resolve against the file's folder.",
            )
        return source


class ModelOperations(_AssetOperations):
    """``thresher model ...``: register model files (a file or a folder), MLflow models included."""

    kind = "model"

    def create(self, spec: ModelSpec) -> AssetRecord:
        """Copy the model into the default datastore (once per distinct content) and register a version."""
        source = self._local_source(spec.path, "model")
        mlmodel = find_mlmodel(source)
        if spec.type == "mlflow_model" and mlmodel is None:
            raise StorageError(
                f"Model '{spec.name}' is registered as mlflow_model but {source} has no MLmodel file.",
                fix="Point --path at the folder written by mlflow.<flavor>.save_model, "
                "or register it with --type custom_model.",
            )
        stored = self._instance.datastore().put_content(source)
        info: dict[str, Any] = {
            "source": str(source),
            "path": str(stored.path),
            "model_dir": str(stored.container),
            "content_hash": stored.content_hash,
            "files": stored.files,
            "bytes": stored.bytes,
        }
        if mlmodel is not None:
            info["mlflow"] = read_mlmodel(stored.path / mlmodel.relative_to(source)).to_dict()
            if spec.type != "mlflow_model":
                info["notes"] = [
                    "This folder is an MLflow model; register it with --type mlflow_model to deploy it with no "
                    "scoring script."
                ]
        return self._instance.store.create_asset(
            self.kind, spec.name, spec=spec.to_document(), info=info, version=spec.version
        )


class EnvironmentOperations(_AssetOperations):
    """``thresher environment ...``: Python environments declared by conda.yaml, requirements.txt or python_env.yaml.

    Example::

        env = ws.environments.create(load_spec("environment.yml", "environment"))
        built = ws.environments.build(env.name, env.version)  # a virtualenv under <workspace>/envs/
        print(built.python, built.size_bytes)
    """

    kind = "environment"

    def create(self, spec: EnvironmentSpec) -> AssetRecord:
        """Register a version; the dependency files' contents are recorded, so later edits need a new version.

        Conda-only packages are an error here already; packages that only talk to Azure's runtime are noted
        as left out.
        """
        info: dict[str, Any] = {"notes": []}
        if isinstance(spec.conda_file, dict):
            info["conda"] = spec.conda_file
        elif spec.conda_file is not None:
            info["conda"] = load_conda_file(self._local_source(str(spec.conda_file), "conda_file"))
        if spec.requirements_file is not None:
            info["requirements"] = read_requirements(
                self._local_source(str(spec.requirements_file), "requirements_file")
            )
        if spec.python_env_file is not None:
            info["python_env"] = read_python_env(self._local_source(str(spec.python_env_file), "python_env_file"))
        if spec.image:
            info["notes"].append(
                f"image {spec.image!r} is not used: thresher runs workers in a virtualenv built from the "
                "environment's dependency file, or in the current interpreter when there is none."
            )
        resolved = from_asset_info(info, f"'{spec.name}'")
        if resolved is None:
            info["notes"].append("No dependency file: workers run in the interpreter that runs thresher.")
        else:
            info["notes"].extend(resolved.notes)
        return self._instance.store.create_asset(
            self.kind, spec.name, spec=spec.to_document(), info=info, version=spec.version
        )

    def build(self, name: str, version: str | None = None) -> EnvironmentBuild:
        """Build the environment's virtualenv now (a job would build it on first use); reuse it if built."""
        record = self.get(name, version)
        resolved = asset_environment(record)
        if resolved is None:
            return current_environment(list(record.info.get("notes") or []))
        label = f"environment '{record.name}:{record.version}'"
        retry = f"thresher environment build {record.name}:{record.version}"
        return build_environment(self._cache(), resolved, label, retry=retry)

    def build_status(self, name: str, version: str | None = None) -> EnvironmentBuild:
        """Whether the environment is built, where, and how big it is, without building it."""
        record = self.get(name, version)
        resolved = asset_environment(record)
        if resolved is None:
            return current_environment(list(record.info.get("notes") or []))
        return build_environment(self._cache(), resolved, f"environment '{record.name}:{record.version}'", build=False)

    def _cache(self) -> EnvironmentCache:
        return EnvironmentCache(envs_dir(self._instance.settings))


class DataOperations(_AssetOperations):
    """``thresher data ...``: uri_file, uri_folder and mltable data assets with a fingerprint of their content."""

    kind = "data"

    def create(self, spec: DataSpec) -> AssetRecord:
        """Copy local data into the default datastore and record a fingerprint of what the path held.

        Data in object storage is not copied: the asset points at it, with the fingerprint of its listing.
        """
        if self._instance.is_remote_uri(spec.path):
            try:
                return self._create_remote(spec)
            except StorageUnavailableError as exc:
                raise not_answering(exc, f"Data asset '{spec.name}':") from exc
        source = self._local_source(spec.path, "data")
        if spec.type == "uri_file" and not source.is_file():
            raise StorageError(
                f"Data asset '{spec.name}' has type uri_file but {source} is a folder.",
                fix="Use --type uri_folder for a folder, or point --path at one file.",
            )
        if spec.type in ("uri_folder", "mltable") and not source.is_dir():
            raise StorageError(
                f"Data asset '{spec.name}' has type {spec.type} but {source} is a file.",
                fix="Use --type uri_file for a single file, or point --path at a folder.",
            )
        if spec.type == "mltable" and not (source / "MLTable").is_file():
            raise StorageError(
                f"Data asset '{spec.name}' has type mltable but {source} has no MLTable file.",
                fix="Add an MLTable file describing the tables, or register the folder as uri_folder.",
            )
        source_fingerprint = fingerprint(source)
        datastore = self._instance.datastore()
        stored = datastore.put_content(source)
        relative = stored.path.relative_to(datastore.root).as_posix()
        info = {
            "source": str(source),
            "path": str(stored.path),
            "uri": datastore.uri(relative),
            "content_hash": stored.content_hash,
            "fingerprint": source_fingerprint.to_dict(),
        }
        return self._instance.store.create_asset(
            self.kind, spec.name, spec=spec.to_document(), info=info, version=spec.version
        )

    def _create_remote(self, spec: DataSpec) -> AssetRecord:
        target = self._instance.remote(spec.path)
        fs, path = target.fs()
        limit = self._instance.settings.storage_outage_limit
        try:
            kind = "uri_folder" if retrying(target.label, lambda: fs.isdir(path), outage_limit=limit) else "uri_file"
            if kind == "uri_file" and not retrying(target.label, lambda: fs.exists(path), outage_limit=limit):
                raise FileNotFoundError(path)
        except FileNotFoundError:
            raise StorageError(
                f"Data asset '{spec.name}': {target.label} does not exist.",
                fix="Check the path, and the container or bucket of the datastore.",
            ) from None
        expected = "uri_file" if spec.type == "uri_file" else "uri_folder"
        if kind != expected:
            raise StorageError(
                f"Data asset '{spec.name}' has type {spec.type} but {target.label} is a "
                f"{'folder' if kind == 'uri_folder' else 'file'}.",
                fix=f"Use --type {kind}, or point --path at a {'file' if expected == 'uri_file' else 'folder'}.",
            )
        mltable = target.join("MLTable")
        if spec.type == "mltable" and not retrying(
            target.label, lambda: fs.exists(mltable.fs()[1]), outage_limit=limit
        ):
            raise StorageError(
                f"Data asset '{spec.name}' has type mltable but {mltable.label} does not exist.",
                fix="Add an MLTable file describing the tables, or register the folder as uri_folder.",
            )
        listed = RemoteFingerprint()
        for _ in iter_remote_files(target, listed, outage_limit=limit):
            pass
        info = {
            "source": spec.path,
            "path": spec.path,
            "uri": spec.path,
            "remote": True,
            "fingerprint": {
                "files": listed.files,
                "bytes": listed.bytes,
                "latest_mtime": None,
                "hash": listed.hexdigest(),
            },
        }
        return self._instance.store.create_asset(
            self.kind, spec.name, spec=spec.to_document(), info=info, version=spec.version
        )
