"""Resolving a job's ``--input`` into a local path and an input kind.

Accepted: a local file or folder, ``file://``, ``azureml://datastores/<ds>/paths/<p>``, and a registered
data asset ``azureml:<name>:<version>`` / ``azureml:<name>@latest``. A data asset of type ``mltable``
is tabular: its ``MLTable`` file says the format (``read_delimited``, ``read_parquet``,
``read_json_lines``) and ``run()`` receives DataFrames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from thresher.errors import StorageError, ThresherError
from thresher.instance import Instance
from thresher.scheduler.jobspec import JobInput
from thresher.specs import Reference, parse_reference

_READERS = {"read_delimited": "csv", "read_parquet": "parquet", "read_json_lines": "jsonl"}


def resolve_input(instance: Instance, uri: str, input_type: str | None) -> JobInput:
    """The local input a job will read, checked: it exists and its type matches ``--input-type``."""
    if input_type not in (None, "uri_folder", "uri_file"):
        raise ThresherError(
            f"--input-type is {input_type!r}; it must be uri_folder or uri_file.",
            fix="Use --input-type uri_folder for a folder, uri_file for one file.",
        )
    reference = parse_reference(uri) if uri.startswith("azureml:") and not uri.startswith("azureml://") else None
    if reference is not None:
        return _data_asset(instance, uri, reference)
    if uri.startswith(("http://", "https://")):
        raise StorageError(
            f"--input {uri!r} is a web address; thresher reads local files and datastores, and never downloads.",
            fix="Download the files to a folder first and pass that folder as --input.",
        )
    path = instance.resolve_local_path(uri)
    if not path.exists():
        raise StorageError(
            f"--input {uri!r} does not exist (looked at {path}).",
            fix="Pass an existing file or folder, or a data asset as azureml:<name>@latest.",
        )
    kind = "uri_file" if path.is_file() else "uri_folder"
    if input_type is not None and input_type != kind:
        raise ThresherError(
            f"--input-type is {input_type} but {path} is a {'file' if path.is_file() else 'folder'}.",
            fix=f"Use --input-type {kind}, or leave --input-type out.",
        )
    return JobInput(uri=uri, path=str(path), type=kind)


def _data_asset(instance: Instance, uri: str, reference: Reference) -> JobInput:
    record = instance.store.get_asset("data", reference.name, reference.version)
    path = Path(str(record.info.get("path") or record.spec.get("path")))
    kind = str(record.spec.get("type", "uri_folder"))
    if kind != "mltable":
        return JobInput(uri=uri, path=str(path), type=kind)
    fmt, options = read_mltable(path / "MLTable")
    return JobInput(uri=uri, path=str(path), type="mltable", tabular=True, format=fmt, read_options=options)


def read_mltable(path: Path) -> tuple[str, dict[str, Any]]:
    """The format and read options an ``MLTable`` file declares in its ``transformations``."""
    try:
        document = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    except (OSError, YAMLError) as exc:
        raise StorageError(f"Cannot read {path}: {exc}", fix="Check that the MLTable file is valid YAML.") from exc
    for step in document.get("transformations") or []:
        if isinstance(step, dict):
            for name, reader in _READERS.items():
                if name in step:
                    raw = step[name] or {}
                    options: dict[str, Any] = {}
                    if reader == "csv":
                        if "delimiter" in raw:
                            options["sep"] = raw["delimiter"]
                        if "encoding" in raw:
                            options["encoding"] = str(raw["encoding"]).replace("utf8", "utf-8")
                    return reader, options
    raise ThresherError(
        f"{path} declares no reader: add a transformations entry read_delimited, read_parquet or read_json_lines.",
        fix="For CSV files, for example:\n  transformations:\n    - read_delimited:\n        delimiter: ','",
    )
