import os

import pandas as pd


def init():
    global output_path
    output_path = os.environ["AZUREML_BI_OUTPUT_PATH"]


def run(mini_batch):
    for file_path in mini_batch:
        data = pd.read_csv(file_path)
        data.to_parquet(os.path.join(output_path, os.path.basename(file_path) + ".parquet"))
    return mini_batch
