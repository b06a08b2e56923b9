#!/bin/bash
# Azure's mnist batch deploy script (azureml-examples cli/endpoints/batch/deploy-models/mnist-classifier),
# register/create/show/update/delete part, with `az ml` replaced by `thresher`. Nothing else changed.
set -e

# <set_variables>
ENDPOINT_NAME="mnist-batch"
# </set_variables>

echo "Register the model"
# <register_model>
MODEL_NAME='mnist-classifier-torch'
thresher model create --name $MODEL_NAME --type "custom_model" --path "deployment-torch/model"
# </register_model>

echo "Creating compute"
# <create_compute>
thresher compute create -n batch-cluster --type amlcompute --min-instances 0 --max-instances 5
# </create_compute>

echo "Creating batch endpoint $ENDPOINT_NAME"
# <create_batch_endpoint>
thresher batch-endpoint create --file endpoint.yml --name $ENDPOINT_NAME
# </create_batch_endpoint>

echo "Showing details of the batch endpoint"
# <check_batch_endpoint_detail>
thresher batch-endpoint show --name $ENDPOINT_NAME
# </check_batch_endpoint_detail>

echo "Creating batch deployment $DEPLOYMENT_NAME for endpoint $ENDPOINT_NAME"
# <create_batch_deployment_set_default>
thresher batch-deployment create --file deployment-torch/deployment.yml --endpoint-name $ENDPOINT_NAME --set-default
# </create_batch_deployment_set_default>

echo "Update the batch deployment as default for the endpoint"
# <update_default_deployment>
DEPLOYMENT_NAME="mnist-torch-dpl"
thresher batch-endpoint update --name $ENDPOINT_NAME --set defaults.deployment_name=$DEPLOYMENT_NAME
# </update_default_deployment>

echo "Showing details of the batch deployment"
# <check_batch_deployment_detail>
thresher batch-deployment show --name $DEPLOYMENT_NAME --endpoint-name $ENDPOINT_NAME
# </check_batch_deployment_detail>

echo "Update the mini-batch size"
thresher batch-deployment update --name $DEPLOYMENT_NAME --endpoint-name $ENDPOINT_NAME --set settings.mini_batch_size=20

DEFAULT=$(thresher batch-endpoint show --name $ENDPOINT_NAME --query defaults.deployment_name -o tsv)
MINI_BATCH=$(thresher batch-deployment show --name $DEPLOYMENT_NAME --endpoint-name $ENDPOINT_NAME --query settings.mini_batch_size -o tsv)
MODEL_PATH=$(thresher model show --name $MODEL_NAME --version 1 --query path -o tsv)
echo "RESULT default=$DEFAULT mini_batch_size=$MINI_BATCH"
echo "RESULT model_path=$MODEL_PATH"

echo "Delete resources"
# <delete_endpoint>
thresher batch-endpoint delete --name $ENDPOINT_NAME --yes
# </delete_endpoint>
thresher compute delete --name batch-cluster --yes
