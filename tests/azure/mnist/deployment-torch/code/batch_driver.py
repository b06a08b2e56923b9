import glob
import os

import pandas as pd
import torch
from PIL import Image
from torchvision import transforms


def init():
    global model
    global device

    # AZUREML_MODEL_DIR is an environment variable created during deployment
    # It is the path to the model folder
    model_path = os.environ["AZUREML_MODEL_DIR"]
    model_file = glob.glob(f"{model_path}/*/*.pt")[-1]

    model = torch.load(model_file)
    model.eval()


def run(mini_batch: list[str]) -> pd.DataFrame:
    print(f"Executing run method over batch of {len(mini_batch)} files.")

    results = []
    with torch.no_grad():
        for image_path in mini_batch:
            image_data = Image.open(image_path)
            image_data = transforms.ToTensor()(image_data).unsqueeze(0)
            predict_logits = model(image_data)
            predict_prob = torch.nn.Softmax(dim=-1)(predict_logits)
            predicted_prob, predicted_class = torch.max(predict_prob, axis=-1)
            results.append(
                {
                    "file": os.path.basename(image_path),
                    "class": predicted_class.numpy()[0],
                    "probability": predicted_prob.numpy()[0],
                }
            )

    return pd.DataFrame(results)
