#!/usr/bin/env bash
# The demo: an Azure ML batch deploy-and-run script with `az ml` replaced by `thresher`: register a
# model trained on scikit-learn's bundled diabetes data, deploy it with a scoring script, score a
# folder of CSV files, and show where the predictions and logs are.
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

echo "== score the data asset"
JOB_NAME=$(thresher batch-endpoint invoke --name diabetes-batch --input azureml:diabetes-data@latest --query name -o tsv)
thresher job stream --name "$JOB_NAME"
thresher job show --name "$JOB_NAME" --query "{status: status, items: items_succeeded, seconds: elapsed_seconds, rate: items_per_second}" -o table
thresher job download --name "$JOB_NAME" --output-name score --download-path out/download
echo "== first predictions (file row prediction), in input order"
head -n 5 out/download/named-outputs/score/predictions.csv
echo "outputs: out/download/named-outputs/score/predictions.csv"
echo "logs:    $(thresher job show --name "$JOB_NAME" --query logs -o tsv)"

echo "== score again: the runner kept the deployment's workers warm (init() done), so no process starts"
AGAIN=$(thresher batch-endpoint invoke --name diabetes-batch --input azureml:diabetes-data@latest --query name -o tsv)
thresher job stream --name "$AGAIN"
thresher job show --name "$AGAIN" --query "{status: status, items: items_succeeded, seconds: elapsed_seconds}" -o table
grep "workers:" "$(thresher job show --name "$AGAIN" --query logs -o tsv)/job_progress_overview.txt"
echo "== warm workers of batch-cluster (kept for idle_time_before_scale_down, 120 s by default), then stopped"
thresher compute show --name batch-cluster --query "warm_workers.{workers: workers, memory_mb: memory_mb}" -o table
thresher compute stop --name batch-cluster --query "{stopped_workers: stopped_workers}" -o table

echo "== a pipeline (Azure v2 YAML): score with the model, then summarize"
thresher job create --file pipeline/pipeline.yml --stream --query name -o tsv
PIPELINE=$(thresher job list --query "[0].name" -o tsv)
thresher job list --parent-job-name "$PIPELINE" --query "[].{step: step, status: status, seconds: elapsed_seconds}" -o table
thresher job download --name "$PIPELINE" --output-name summary --download-path out/pipeline
cat out/pipeline/named-outputs/summary/summary.json; echo
echo "== the same pipeline again: nothing changed, so every step is reused and no step process starts"
thresher job create --file pipeline/pipeline.yml --stream --query name -o tsv
AGAIN=$(thresher job list --query "[0].name" -o tsv)
thresher job explain-reuse "$AGAIN.summarize"
