"""Mini-batch-level inference: run() gets a DataFrame of up to mini_batch_size rows and predicts them in one call."""

import os
import pickle

import pandas as pd


def init():
    global model
    # AZUREML_MODEL_DIR holds the registered folder ("model/"), as on Azure.
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "model.pkl"), "rb") as handle:
        model = pickle.load(handle)


def run(mini_batch):
    # One predict() over the whole mini-batch: the fastest way when the mini-batch fits in memory.
    predictions = model.predict(mini_batch.drop(columns="patient_id"))
    # One returned row per input row: thresher counts each as one succeeded item.
    return pd.DataFrame({"patient_id": mini_batch["patient_id"], "prediction": predictions.round(1)})
