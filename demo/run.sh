#!/usr/bin/env bash
# The demo: the register part of an Azure ML batch deploy script, with `az ml` replaced by `thresher`.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf out
export THRESHER_HOME="$PWD/out/.thresher"

python make_assets.py out

echo "== register"
thresher model create --name diabetes-model --type custom_model --path out/model --query "{name:name, version:version}" -o tsv
thresher environment create --name diabetes-env --conda-file environment/conda.yaml --query name -o tsv
thresher data create --name diabetes-data --type uri_folder --path out/data --query "[name, fingerprint.files]" -o tsv
thresher compute create --name batch-cluster --type amlcompute --min-instances 0 --max-instances 2 --query name -o tsv

echo "== deploy"
thresher batch-endpoint create --file endpoint.yml --query name -o tsv
thresher batch-deployment create --file deployment.yml --endpoint-name diabetes-batch --set-default --query name -o tsv
echo "default deployment: $(thresher batch-endpoint show --name diabetes-batch --query defaults.deployment_name -o tsv)"

echo "== what the workspace holds ($THRESHER_HOME)"
for kind in model environment data compute batch-endpoint; do
  echo "-- $kind"
  thresher "$kind" list -o table
done
echo "-- batch-deployment"
thresher batch-deployment list --endpoint-name diabetes-batch -o table
echo "== deployment settings"
thresher batch-deployment show --name diabetes-hgb --endpoint-name diabetes-batch --query settings -o yaml
