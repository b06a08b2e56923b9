"""Row-level inference: run() gets a mini-batch of CSV files and classifies their texts one row at a time."""

import csv
import os
import pickle


def init():
    global model
    # AZUREML_MODEL_DIR holds the registered folder ("model/"), as on Azure.
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "model.pkl"), "rb") as handle:
        model = pickle.load(handle)


def run(mini_batch):
    results = []
    for file_path in mini_batch:
        name = os.path.basename(file_path)
        with open(file_path, newline="", encoding="utf-8") as handle:
            # One row at a time: memory holds one text, however big the file; a model whose cost grows
            # faster than its input (a long text through a big language model) is run this way.
            for row in csv.DictReader(handle):
                probabilities = model.predict_proba([row["text"]])[0]
                best = probabilities.argmax()
                # One result per row: "file post_id topic probability".
                results.append(f"{name} {row['post_id']} {model.classes_[best]} {probabilities[best]:.2f}")
    return results
