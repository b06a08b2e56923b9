"""The worker side: runs inside the user's model environment, loads the scoring script, runs mini-batches.

Everything here needs only the standard library (pandas and pyarrow are imported lazily, only when a
script returns DataFrames or Parquet output is asked for), because the model environment has none of
thresher's own dependencies. Nothing here imports the store, the scheduler, the SDK or the CLI.

    protocol   what the control plane and a worker agree on: env vars, messages, log paths
    worker     ``python -m thresher.runtime.worker``: the worker main loop
    entry      loads the scoring script and calls it inside one error boundary
    results    normalises what ``run()`` returns
    formats    writes a result part in the output format, atomically
    shims/     ``azureml_user.parallel_run`` and ``azureml.core``, first on the worker's PYTHONPATH
"""
