"""The network: shared by make_assets.py (training) and score.py (scoring), which loads its state dict."""

from torch import nn


class DigitsCNN(nn.Sequential):
    """A small CNN for scikit-learn's 8x8 digit images (one channel, pixel values 0..1), 10 classes."""

    def __init__(self) -> None:
        super().__init__(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8x8 -> 4x4
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 10),
        )
