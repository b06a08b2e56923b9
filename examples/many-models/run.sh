#!/usr/bin/env bash
# Many models: a model per store, one registered folder of them. The weeks to forecast (an MLTable of
# CSV files, every store's rows in every file) are cut by the deployment's partition_keys: [store] into
# one mini-batch per store, and run() scores each with its store's model, loaded on first use.
# Run from the repository root: bash examples/many-models/run.sh
# Knobs (EXAMPLE_SIZE=small, EXAMPLE_OUT, PYTHON): see examples/workspace.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
needs="sklearn pandas"
source "$here/../workspace.sh"

"$python" make_assets.py "$out" --size "$size"

echo "== register and deploy (workspace: $THRESHER_HOME)"
thresher model create -f model.yml --path "$out/model" --query "{name: name, version: version}" -o tsv
thresher environment create -f environment.yml --query "{name: name, version: version}" -o tsv
thresher data create --name store-weeks --type mltable --path "$out/data" --query "{name: name, version: version, files: fingerprint.files}" -o tsv
thresher batch-endpoint create -f endpoint.yml --query name -o tsv
thresher batch-deployment create -f deployment.yml --set-default --query "{name: name, partition_keys: join(',', settings.partition_keys)}" -o tsv

echo "== forecast every store with its own model"
job=$(thresher batch-endpoint invoke --name store-forecasts --input azureml:store-weeks@latest --query name -o tsv)
thresher job stream --name "$job"
thresher job download --name "$job" --output-name score --download-path "$out/download"

echo "== first forecasts (store week forecast)"
head -n 3 "$out/download/named-outputs/score/forecasts.csv"
echo "== models loaded, per worker (from the workers' stdout logs)"
(cd "$(thresher job show --name "$job" --query logs -o tsv)/user/stdout" && grep -r "loaded the model" . | sort)
"$python" summarize.py "$out"
