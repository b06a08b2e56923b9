"""Pipelines: steps wired by outputs to inputs, run as step jobs under a pipeline job, reused when unchanged.

- ``model``: the one pipeline model both front doors build (a ``PipelineDef`` of ``Step``s), stored
  as plain data on the pipeline job, so any runner can run it.
- ``yaml_loader`` / ``components``: Azure's v2 pipeline and component YAML, checked all at once.
- ``graph``: the checks on the wiring (unbound inputs, cycles, types).
- ``cache``: a step's cache key as readable JSON, and the words that explain a difference.
- ``driver``: the runner's side: starts steps as their inputs exist, reuses what it can, resumes.
- ``command_step`` / ``parallel_step``: how one step runs (a process in its environment; a batch job).
"""
