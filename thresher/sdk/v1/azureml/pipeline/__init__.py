"""``azureml.pipeline``: ``core`` (Pipeline, PipelineParameter, PipelineData, runs) and ``steps``."""
