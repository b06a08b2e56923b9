#!/usr/bin/env bash
# File-level inference on images: a folder of PNG digits is cut into mini-batches of 20 files, and
# run() opens and scores them one file at a time with a PyTorch CNN trained here on scikit-learn's
# bundled digits. Run from the repository root: bash examples/images-file-level/run.sh
# Knobs (EXAMPLE_SIZE=small, EXAMPLE_OUT, PYTHON): see examples/workspace.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
needs="torch PIL sklearn numpy pandas"
source "$here/../workspace.sh"

"$python" make_assets.py "$out" --size "$size"

echo "== register and deploy (workspace: $THRESHER_HOME)"
thresher model create -f model.yml --path "$out/model" --query "{name: name, version: version}" -o tsv
thresher environment create -f environment.yml --query "{name: name, version: version}" -o tsv
thresher batch-endpoint create -f endpoint.yml --query name -o tsv
thresher batch-deployment create -f deployment.yml --set-default --query "{name: name, mini_batch_size: settings.mini_batch_size}" -o tsv

echo "== score the PNG folder"
job=$(thresher batch-endpoint invoke --name digits-images --input "$out/data" --query name -o tsv)
thresher job stream --name "$job"
thresher job download --name "$job" --output-name score --download-path "$out/download"

echo "== first predictions (file digit probability)"
head -n 3 "$out/download/named-outputs/score/predictions.csv"
"$python" summarize.py "$out"
