"""Many models: one mini-batch per store (partition_keys: [store]), scored by that store's own model.

The model folder holds one pickle per store. A worker loads a store's model the first time it gets that
store's rows and keeps it in a dict, so each model is read at most once per worker, and a worker only
holds the models of the stores it was given.
"""

import os
import pickle

import pandas as pd

FEATURES = ["price", "promo", "season_sin", "season_cos"]
models = {}


def init():
    global model_dir
    # AZUREML_MODEL_DIR holds the registered folder ("model/"), as on Azure. Nothing is loaded yet.
    model_dir = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model")


def model_for(store):
    if store not in models:
        path = os.path.join(model_dir, f"{store}.pkl")
        if not os.path.exists(path):
            raise LookupError(f"No model for store {store!r}: {path} does not exist. Train one, or remove its rows.")
        with open(path, "rb") as handle:
            models[store] = pickle.load(handle)
        print(f"loaded the model of {store} ({len(models)} held by this worker)")
    return models[store]


def run(mini_batch, mini_batch_context):
    # The partition's key values: {"store": "store-01"} (CSV key columns are read as text).
    store = mini_batch_context.partition_key_value["store"]
    forecast = model_for(store).predict(mini_batch[FEATURES])
    return pd.DataFrame({"store": store, "week": mini_batch["week"], "forecast": forecast.round(1)})
