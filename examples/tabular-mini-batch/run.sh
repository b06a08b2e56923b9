#!/usr/bin/env bash
# Mini-batch-level inference on a table: an MLTable of CSV files is cut into DataFrames of 1,000 rows,
# and run() predicts each DataFrame in one call. Run from the repository root:
# bash examples/tabular-mini-batch/run.sh
# Knobs (EXAMPLE_SIZE=small, EXAMPLE_OUT, PYTHON): see examples/workspace.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
needs="sklearn pandas"
source "$here/../workspace.sh"

"$python" make_assets.py "$out" --size "$size"

echo "== register and deploy (workspace: $THRESHER_HOME)"
thresher model create -f model.yml --path "$out/model" --query "{name: name, version: version}" -o tsv
thresher environment create -f environment.yml --query "{name: name, version: version}" -o tsv
thresher data create --name diabetes-visits --type mltable --path "$out/data" --query "{name: name, version: version, files: fingerprint.files}" -o tsv
thresher batch-endpoint create -f endpoint.yml --query name -o tsv
thresher batch-deployment create -f deployment.yml --set-default --query "{name: name, mini_batch_size: settings.mini_batch_size}" -o tsv

echo "== score the table"
job=$(thresher batch-endpoint invoke --name diabetes-tabular --input azureml:diabetes-visits@latest --query name -o tsv)
thresher job stream --name "$job"
thresher job download --name "$job" --output-name score --download-path "$out/download"

echo "== first predictions (patient_id prediction)"
head -n 3 "$out/download/named-outputs/score/predictions.csv"
"$python" summarize.py "$out"
