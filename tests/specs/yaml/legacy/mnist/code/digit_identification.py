import os


def init():
    global model_path
    model_path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model")


def run(mini_batch):
    return [os.path.basename(path) for path in mini_batch]
