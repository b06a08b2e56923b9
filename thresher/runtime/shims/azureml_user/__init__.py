"""Shim of Azure ML's ``azureml_user`` package (see ``azureml_user.parallel_run``)."""
