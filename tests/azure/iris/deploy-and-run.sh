#!/bin/bash
# The invoke/stream/show/download part of Azure's batch deploy scripts (azureml-examples
# cli/endpoints/batch/deploy-models/*/deploy-and-run.sh), with `az ml` replaced by `thresher` and the
# public input URI replaced by a local folder. Nothing else changed.
set -e

ENDPOINT_NAME="iris-batch"
DEPLOYMENT_NAME="classifier-lr"

echo "Registering the model"
az_model_path="model"
thresher model create --name iris-classifier --type custom_model --path $az_model_path

echo "Creating compute"
thresher compute create -n batch-cluster --type amlcompute --min-instances 0 --max-instances 5

echo "Creating batch endpoint $ENDPOINT_NAME"
thresher batch-endpoint create -n $ENDPOINT_NAME -f endpoint.yml

echo "Creating batch deployment $DEPLOYMENT_NAME for endpoint $ENDPOINT_NAME"
thresher batch-deployment create --file deployment.yml --endpoint-name $ENDPOINT_NAME --set-default

echo "Invoking batch endpoint"
# <start_batch_scoring_job>
JOB_NAME=$(thresher batch-endpoint invoke --name $ENDPOINT_NAME --input data --input-type uri_folder --query name -o tsv)
# </start_batch_scoring_job>

echo "Showing job detail"
# <show_job_in_studio>
thresher job show -n $JOB_NAME --web
# </show_job_in_studio>

echo "Stream job logs to console"
# <stream_job_logs>
thresher job stream -n $JOB_NAME
# </stream_job_logs>

# <check_job_status>
STATUS=$(thresher job show -n $JOB_NAME --query status -o tsv)
echo $STATUS
if [[ $STATUS == "Completed" ]]
then
  echo "Job completed"
elif [[ $STATUS ==  "Failed" ]]
then
  echo "Job failed"
  exit 1
else
  echo "Job status not failed or completed"
  exit 2
fi
# </check_job_status>

echo "Download scores to local path"
# <download_outputs>
thresher job download --name $JOB_NAME --output-name score --download-path ./
# </download_outputs>

# <list_all_jobs>
thresher batch-endpoint list-jobs --name $ENDPOINT_NAME --query [].name
# </list_all_jobs>

# <list_deployment_jobs>
thresher batch-deployment list-jobs --name $DEPLOYMENT_NAME --endpoint-name $ENDPOINT_NAME --query [].name
# </list_deployment_jobs>

echo "RESULT job=$JOB_NAME status=$STATUS"
