"""File-level inference: run() opens the PNG files of its mini-batch one at a time and returns one line per file."""

import os

import numpy as np
import torch
from digits_cnn import DigitsCNN  # the code folder is importable, as on Azure
from PIL import Image


def init():
    global model
    model = DigitsCNN()
    # AZUREML_MODEL_DIR holds the registered folder ("model/"), as on Azure.
    path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "digits_cnn.pt")
    model.load_state_dict(torch.load(path, map_location="cpu"))
    model.eval()


def run(mini_batch):
    results = []
    with torch.inference_mode():
        for file_path in mini_batch:
            pixels = np.asarray(Image.open(file_path).convert("L"), dtype=np.float32) / 255.0
            probabilities = model(torch.from_numpy(pixels)[None, None]).softmax(dim=1)[0]
            digit = int(probabilities.argmax())
            # One line per file: "file digit probability" (append_row writes each element on its own line).
            results.append(f"{os.path.basename(file_path)} {digit} {float(probabilities[digit]):.3f}")
    return results
