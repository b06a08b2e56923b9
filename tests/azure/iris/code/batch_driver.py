# An Azure ML batch scoring script in the style of azureml-examples (custom scoring over CSV files).
import glob
import logging
import os
import pickle

import pandas as pd


def init():
    global model

    # AZUREML_MODEL_DIR is an environment variable created during deployment
    # The path "model" is the name of the registered model's folder
    model_path = glob.glob(os.environ["AZUREML_MODEL_DIR"] + "/*/")[0]
    with open(os.path.join(model_path, "model.pkl"), "rb") as handle:
        model = pickle.load(handle)
    logging.info("Batch deployment initialized")


def run(mini_batch):
    logging.info(f"Executing run method over batch of {len(mini_batch)} files.")
    results = []
    for file_path in mini_batch:
        data = pd.read_csv(file_path)
        pred = model.predict(data)
        data["prediction"] = pred
        data["file"] = os.path.basename(file_path)
        results.append(data[["file", "prediction"]])
    return pd.concat(results)
