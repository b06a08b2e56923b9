"""Shim of the ``azureml`` namespace: ``azureml.core`` and ``azureml.contrib.services`` are thresher's;
other installed ``azureml.*`` packages (``azureml.mlflow``, ...) stay importable because the
namespace extends over ``sys.path``.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
