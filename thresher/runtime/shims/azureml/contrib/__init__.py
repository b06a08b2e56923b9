"""``azureml.contrib``: only ``azureml.contrib.services`` (the ``@rawhttp`` request and response)."""
