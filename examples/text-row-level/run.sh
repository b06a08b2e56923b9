#!/usr/bin/env bash
# Row-level inference on text: a folder of CSV files of short posts is cut into mini-batches of 2 files,
# and run() reads each file and classifies its posts one row at a time, returning one result per row.
# Run from the repository root: bash examples/text-row-level/run.sh
# Knobs (EXAMPLE_SIZE=small, EXAMPLE_OUT, PYTHON): see examples/workspace.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
needs="sklearn pandas"
source "$here/../workspace.sh"

"$python" make_assets.py "$out" --size "$size"

echo "== register and deploy (workspace: $THRESHER_HOME)"
thresher model create -f model.yml --path "$out/model" --query "{name: name, version: version}" -o tsv
thresher environment create -f environment.yml --query "{name: name, version: version}" -o tsv
thresher batch-endpoint create -f endpoint.yml --query name -o tsv
thresher batch-deployment create -f deployment.yml --set-default --query "{name: name, mini_batch_size: settings.mini_batch_size}" -o tsv

echo "== score the folder of posts"
job=$(thresher batch-endpoint invoke --name topics-text --input "$out/data" --query name -o tsv)
thresher job stream --name "$job"
thresher job download --name "$job" --output-name score --download-path "$out/download"

echo "== first predictions (file post_id topic probability)"
head -n 3 "$out/download/named-outputs/score/predictions.csv"
"$python" summarize.py "$out"
