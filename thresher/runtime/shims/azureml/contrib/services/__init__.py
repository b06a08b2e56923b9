"""``azureml.contrib.services``: Azure's older import path of ``AMLRequest``, ``rawhttp`` and ``AMLResponse``.

The classes are those of ``azureml_inference_server_http.api``, so a script may import from either.
"""


def sibling(name: str, module: str) -> str:
    """The full name of ``module`` (a top-level shim) seen from ``name`` (this package's module, which is
    ``azureml.contrib...`` in a worker and ``thresher.runtime.shims.azureml.contrib...`` in thresher's own
    tests and checks)."""
    prefix = name[: name.index("azureml.contrib")]
    return prefix + module
