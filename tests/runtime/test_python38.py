"""The worker runtime runs in a model environment's own Python, down to 3.8: a real 3.8 compiles and imports it.

Compiling catches syntax 3.8 lacks (``match``, parenthesised with-items); importing with no
site-packages catches what module level evaluates (``X | Y`` outside annotations, ``list[int]``
aliases, dataclass options) and any import beyond the standard library. What only runs inside
functions is exercised by the Python 3.8 jobs of tests/environments.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import thresher.runtime
from thresher.environments.interpreters import Interpreter, find_interpreter
from thresher.errors import ThresherError

RUNTIME = Path(thresher.runtime.__file__).parent
ROOT = RUNTIME.parent.parent
OLDEST = "3.8"

CHECK = """
import importlib, json, sys, traceback
failures = {}
for path in sys.argv[2:]:
    try:
        with open(path, encoding="utf-8") as handle:
            compile(handle.read(), path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        failures[path] = "SyntaxError: %s (line %s)" % (exc.msg, exc.lineno)
for module in sys.argv[1].split(","):
    try:
        importlib.import_module(module)
    except Exception:
        failures[module] = traceback.format_exc(limit=-1)
print(json.dumps({"version": sys.version.split()[0], "modules": sorted(sys.modules), "failures": failures}))
"""


def _oldest_python() -> Interpreter:
    try:
        interpreter, _ = find_interpreter(OLDEST, "tests/runtime/test_python38.py")
    except ThresherError:
        pytest.skip(f"Python {OLDEST} is not installed (uv python install {OLDEST}): the runtime's oldest Python")
    return interpreter


def _modules() -> list[str]:
    names = []
    for path in sorted(RUNTIME.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_python_38_compiles_and_imports_the_whole_runtime_with_only_the_standard_library() -> None:
    python = _oldest_python()
    files = [str(path) for path in sorted(RUNTIME.rglob("*.py"))]
    modules = _modules()
    assert "thresher.runtime.worker" in modules and "thresher.runtime.mlflow_driver" in modules
    # -S: no site-packages, so a module that imports numpy or pandas at its top fails here;
    # -B: no cpython-38 .pyc files left in the source tree
    done = subprocess.run(
        [python.path, "-S", "-B", "-c", CHECK, ",".join(modules), *files],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["version"].startswith(OLDEST + ".")
    assert report["failures"] == {}, "\n".join(f"{where}: {error}" for where, error in report["failures"].items())
    assert not {"numpy", "pandas", "pyarrow"} & set(report["modules"])
