import json
import os


def init():
    global model_path
    model_path = os.path.join(os.getenv("AZUREML_MODEL_DIR", "."), "model")


def run(raw_data):
    data = json.loads(raw_data)["data"]
    return [sum(row) for row in data]
