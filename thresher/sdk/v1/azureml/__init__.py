"""thresher's shim of Azure ML's v1 SDK (``azureml-core``, ``azureml-pipeline``): on ``sys.path`` only inside
``thresher run`` and inside the command steps of the pipelines it submits; never installed.

Other installed ``azureml.*`` packages (``azureml.mlflow``, ...) stay importable: the namespace extends
over ``sys.path``.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
