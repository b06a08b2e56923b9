"""v1 datasets in the thresher workspace: where their files are, registering them as data assets, and
the step input (``Binding``) a dataset becomes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thresher.errors import NotFoundError, ThresherError
from thresher.pipelines.model import Binding
from thresher.sdk.pipelines import WorkspaceSources
from thresher.specs import DataSpec
from thresher.storage import fingerprint

from .workspace import note, thresher_workspace, user_error

if TYPE_CHECKING:
    from ..core.workspace import Workspace
    from ..data.datasets import AbstractDataset

V1_TYPE = "azureml.v1.dataset_type"  # tag of a registered dataset: file | tabular
V1_OPTIONS = "azureml.v1.read_options"  # tag: JSON of a tabular dataset's read options


def _missing(location: str, where: Path) -> Exception:
    from ..exceptions import UserErrorException

    return UserErrorException(
        f"Dataset path {location!r} does not exist (looked at {where}). Check the path, or upload the files "
        "first (datastore.upload(src_dir=..., target_path=...))."
    )


def local_path(dataset: AbstractDataset) -> str:
    """The local file or folder the dataset's files are in; UserErrorException when there is none."""
    if dataset._stored_path:
        return dataset._stored_path
    location = dataset._location
    instance = thresher_workspace().instance
    try:
        if instance.is_remote_uri(location) or ("://" in location and not location.startswith("azureml://")):
            from ..exceptions import UserErrorException

            raise UserErrorException(
                f"Dataset {location!r} is in object storage: thresher reads it in a step, not in the driver script."
            )
        path = instance.resolve_local_path(location)
    except ThresherError as exc:
        raise user_error(exc) from None
    if not path.exists():
        raise _missing(location, path)
    return str(path)


def binding(dataset: AbstractDataset, mode: str | None, sources: WorkspaceSources) -> Binding:
    """The step input a dataset is; LookupError saying why when its data cannot be found."""
    if dataset.name and dataset._stored_path:
        kind = "uri_file" if Path(dataset._stored_path).is_file() else "uri_folder"
        return Binding(
            "data", type=kind, path=dataset._stored_path, asset=f"{dataset.name}:{dataset.version}", mode=mode
        )
    location = dataset._location
    if location.startswith("azureml://"):
        path = sources.datastore_path(location).path
    elif "://" in location:
        return Binding("data", type="uri_folder", path=location, mode=mode)
    else:
        path = location
    if "://" not in path and not Path(path).exists():
        raise LookupError(f"dataset path {location!r} does not exist (looked at {path})")
    kind = "uri_file" if "://" not in path and Path(path).is_file() else "uri_folder"
    return Binding("data", type=kind, path=path, mode=mode)


def register(
    workspace: Workspace,
    dataset: AbstractDataset,
    name: str,
    description: str | None,
    tags: dict[str, str] | None,
    create_new_version: bool,
) -> AbstractDataset:
    """``dataset.register``: the latest version when it holds the same location and files, else a new one."""
    ws = workspace._thresher
    source = local_path(dataset)
    try:
        latest = ws.data.get(name)
    except NotFoundError:
        latest = None
    if latest is not None:
        same_place = latest.info.get("source") == source
        if same_place and (latest.info.get("fingerprint") or {}).get("hash") == fingerprint(Path(source)).hash:
            found: AbstractDataset = get_by_name(workspace, name, latest.version)
            return found
        if not same_place and not create_new_version:
            from ..exceptions import UserErrorException

            raise UserErrorException(
                f'There is already a dataset registered under name "{name}" (version {latest.version}, from '
                f"{latest.info.get('source')}). Specify create_new_version=True to register the dataset as a new "
                "version."
            )
        if same_place:
            note(
                f"dataset {name!r}: the files at {source} changed since version {latest.version}; registered a new one."
            )
    all_tags = {**(tags or {}), V1_TYPE: dataset._kind}
    if dataset._options:
        all_tags[V1_OPTIONS] = json.dumps(dataset._options, sort_keys=True)
    kind = "uri_file" if Path(source).is_file() else "uri_folder"
    try:
        spec = DataSpec.model_validate(
            {"name": name, "type": kind, "path": source, "description": description, "tags": all_tags}
        )
        record = ws.data.create(spec)
    except ThresherError as exc:
        raise user_error(exc) from None
    registered: AbstractDataset = get_by_name(workspace, name, record.version)
    return registered


def get_by_name(workspace: Workspace, name: str, version: str | None) -> Any:
    """A registered data asset as a v1 dataset (tabular when it was registered as one)."""
    from ..data.datasets import FileDataset, TabularDataset

    try:
        record = workspace._thresher.data.get(name, version)
    except NotFoundError as exc:
        raise user_error(exc) from None
    tags = dict(record.spec.get("tags") or {})
    kind = TabularDataset if tags.pop(V1_TYPE, "file") == "tabular" else FileDataset
    options = json.loads(tags.pop(V1_OPTIONS, "{}"))
    path = str(record.info.get("path") or record.spec.get("path"))
    return kind(
        str(record.info.get("source") or path),
        options,
        workspace=workspace,
        name=record.name,
        version=record.version,
        stored_path=path,
        description=record.spec.get("description"),
        tags=tags,
    )
