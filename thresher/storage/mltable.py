"""``MLTable`` files: the format and read options of a folder of tables (Azure's ``mltable`` data type).

Only the reader is read (``read_delimited``, ``read_parquet``, ``read_json_lines`` in ``transformations``),
with a CSV's delimiter and encoding; the files are the folder's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thresher.errors import StorageError, ThresherError

MLTABLE = "MLTable"
_READERS = {"read_delimited": "csv", "read_parquet": "parquet", "read_json_lines": "jsonl"}


def read_mltable(path: Path) -> tuple[str, dict[str, Any]]:
    """The format and read options an ``MLTable`` file declares in its ``transformations``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"Cannot read {path}: {exc}", fix="Check that the MLTable file exists.") from exc
    return parse_mltable(text, str(path))


def parse_mltable(text: str, path: str) -> tuple[str, dict[str, Any]]:
    """The format and read options of an ``MLTable`` document; ``path`` names it in errors."""
    from ruamel.yaml import YAML  # here: only a data asset of type mltable has one to read
    from ruamel.yaml.error import YAMLError

    try:
        document = YAML(typ="safe").load(text) or {}
    except YAMLError as exc:
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
