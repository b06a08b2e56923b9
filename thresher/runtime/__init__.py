"""The worker side: runs inside the user's model environment, loads the scoring script, runs mini-batches.

Everything here needs only the standard library (pandas and pyarrow are imported lazily, only when a
script returns DataFrames or Parquet output is asked for), because the model environment has none of
thresher's own dependencies. Nothing here imports the store, the scheduler, the SDK or the CLI.

    protocol   what the control plane and a worker agree on: env vars, messages, log paths
    worker     ``python -m thresher.runtime.worker``: the worker main loop
    entry      loads the scoring script and calls it inside one error boundary
    results    normalises what ``run()`` returns (``ItemResults``: which items failed)
    formats    writes a result part in the output format, atomically; takes back a failed item's rows
    parquet_part  a Parquet part written in row groups, with that take-back
    mlflow_driver the built-in driver of no-code MLflow deployments (``script`` None)
    signature  the signature policy: fitting a file's data to an MLflow model's input signature
    convert    lossless conversion of numeric data, value by value
    shims/     ``azureml_user.parallel_run`` and ``azureml.core``, first on the worker's PYTHONPATH
"""
