"""Train a small CNN on scikit-learn's bundled 8x8 digits and write held-out digits as PNG files to score.

The 1,797 digits ship inside scikit-learn, so nothing is downloaded. The CNN trains on 1,437 of
them for a few seconds on a CPU; the other 360 become the PNG folder, and their true labels go to
labels.csv (beside the folder, not in it) so that the predictions can be checked.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

HERE = Path(__file__).resolve().parent
SIZES = {"small": 100, "full": 360}  # PNG files to score (of the 360 held-out digits)
EPOCHS = 8


def load_network() -> type[nn.Module]:
    """DigitsCNN from code/digits_cnn.py: the one definition that the scoring script loads too."""
    spec = importlib.util.spec_from_file_location("digits_cnn", HERE / "code" / "digits_cnn.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    network: type[nn.Module] = module.DigitsCNN
    return network


def train(images: np.ndarray, labels: np.ndarray) -> nn.Module:
    """A few epochs of Adam over mini-batches of 64 images (pixels scaled to 0..1)."""
    torch.manual_seed(0)
    # Tensors this small gain nothing from several threads, which only wait on each other on a busy machine.
    torch.set_num_threads(1)
    model = load_network()()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    x = torch.from_numpy(images[:, None].astype(np.float32))
    y = torch.from_numpy(labels.astype(np.int64))
    for _ in range(EPOCHS):
        for batch in torch.randperm(len(x)).split(64):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    return model.eval()


def main(out: Path, size: str) -> None:
    """Write ``out/model/digits_cnn.pt``, ``out/data/*.png`` and ``out/labels.csv``."""
    digits = load_digits()
    images = digits.images / 16.0  # scikit-learn's pixels are 0..16
    train_x, test_x, train_y, test_y = train_test_split(
        images, digits.target, test_size=360, random_state=0, stratify=digits.target
    )
    began = time.monotonic()
    model = train(train_x, train_y)
    with torch.inference_mode():
        accuracy = (model(torch.from_numpy(test_x[:, None].astype(np.float32))).argmax(1).numpy() == test_y).mean()
    (out / "model").mkdir(parents=True)
    torch.save(model.state_dict(), out / "model" / "digits_cnn.pt")

    data = out / "data"
    data.mkdir()
    count = SIZES[size]
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label"])
        for index in range(count):
            name = f"digit-{index:04d}.png"
            Image.fromarray(np.round(test_x[index] * 255).astype(np.uint8)).save(data / name)
            writer.writerow([name, int(test_y[index])])
    print(
        f"trained DigitsCNN on {len(train_x)} digits in {time.monotonic() - began:.1f} s "
        f"(held-out accuracy {accuracy:.3f}); wrote {count} PNG files to {data}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    arguments = parser.parse_args()
    main(arguments.out, arguments.size)
