"""An Azure ML batch scoring script, unchanged: init() once per worker, run() once per mini-batch."""

import glob
import os
import pickle

import pandas as pd


def init():
    global model
    # AZUREML_MODEL_DIR holds the registered folder ("model/") as on Azure.
    path = glob.glob(os.path.join(os.environ["AZUREML_MODEL_DIR"], "*", "model.pkl"))[0]
    with open(path, "rb") as handle:
        model = pickle.load(handle)


def run(mini_batch):
    results = []
    for file_path in mini_batch:
        data = pd.read_csv(file_path)
        predictions = model.predict(data)
        results.append(
            pd.DataFrame(
                {
                    "file": os.path.basename(file_path),
                    "row": range(len(data)),
                    "prediction": predictions.round(2),
                }
            )
        )
    return pd.concat(results)
