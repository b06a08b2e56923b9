"""Running uv, the installer environments are built with: where its binary is, and which indexes it uses."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from thresher.errors import ThresherError


def uv_command() -> list[str]:
    """How to run uv: the binary of the ``uv`` package thresher depends on."""
    try:
        import uv

        return [uv.find_uv_bin()]
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise ThresherError(
                "Building environments needs uv, which is not installed.", fix="Install it with: pip install uv"
            ) from None
        return [found]


def index_options(environ: Mapping[str, str] = os.environ) -> list[str]:
    """pip's configured wheel folders and indexes as uv options, so locally provided wheels are used."""
    options = [f"--find-links={link}" for link in environ.get("PIP_FIND_LINKS", "").split()]
    if environ.get("PIP_INDEX_URL"):
        options.append(f"--index-url={environ['PIP_INDEX_URL']}")
    options += [f"--extra-index-url={url}" for url in environ.get("PIP_EXTRA_INDEX_URL", "").split()]
    return options
