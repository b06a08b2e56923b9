"""``thresher run driver.py [args...]``: run an Azure ML v1 SDK driver script against the thresher workspace.

The script runs in this process as ``python driver.py args...`` would run it (``__main__``, its folder
importable, ``sys.argv`` its own), with the ``azureml`` shim first on ``sys.path``: ``import
azureml.core`` resolves to the shim here and nowhere else. An exception from the script is printed as
Python prints it (from the script's frames on) and the exit code is 1; ``sys.exit(n)`` gives ``n``.
"""

from __future__ import annotations

import importlib
import runpy
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from thresher.errors import ThresherError
from thresher.sdk.v1 import shim_dir


def run_driver(script: str | Path, arguments: Sequence[str] = ()) -> int:
    """Run ``script`` with ``arguments``; its exit code."""
    path = Path(script)
    if not path.is_file():
        raise ThresherError(
            f"The driver script {str(script)!r} does not exist (looked at {path.resolve()}).",
            fix="Give the path of a Python script: thresher run driver.py [arguments...]",
        )
    saved_argv, saved_path = list(sys.argv), list(sys.path)
    sys.argv = [str(path), *arguments]
    sys.path[:0] = [str(shim_dir()), str(path.resolve().parent)]
    importlib.invalidate_caches()
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException as exc:  # the script's own error: shown as Python would show it
        if isinstance(exc, KeyboardInterrupt):
            return 130
        _print_from_script(exc, path.resolve())
        return 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        opened = sys.modules.get("azureml._thresher.workspace")
        if opened is not None:
            opened.close()
        for name in [m for m in sys.modules if m == "azureml" or m.startswith("azureml.")]:
            del sys.modules[name]  # a later run in this process (tests) imports the shim afresh
    return 0


def _print_from_script(exc: BaseException, script: Path) -> None:
    """The traceback from the first frame of the script on (runpy's and the launcher's frames left out)."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and Path(tb.tb_frame.f_code.co_filename).resolve() != script:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb or exc.__traceback__, file=sys.stderr)
