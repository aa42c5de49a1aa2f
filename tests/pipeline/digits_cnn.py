"""A small CNN for scikit-learn's 8x8 digits, importable as ``--module digits_cnn:make_model``.

The tests train it once, save the weights, and point ``DIGITS_CNN_WEIGHTS`` at them.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn


class DigitsCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10)
        )

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.features(pixels))
        return logits


def make_model() -> nn.Module:
    model = DigitsCNN()
    weights = os.environ.get("DIGITS_CNN_WEIGHTS")
    if weights:
        model.load_state_dict(torch.load(weights, weights_only=True))
    return model


class Unexportable(nn.Module):
    """Uses an operator the ONNX exporter has no translation for."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: torch.Tensor = torch.linalg.eigvals(x @ x.transpose(-1, -2)).real.sum(-1)
        return values


def make_unexportable() -> nn.Module:
    return Unexportable()


class DigitsRGB(nn.Module):
    """The digits CNN fed RGB images (``[batch, 3, 8, 8]``), as an image classifier is."""

    def __init__(self) -> None:
        super().__init__()
        self.cnn = DigitsCNN()

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.cnn(pixels.mean(dim=1, keepdim=True))
        return logits


def make_rgb_model() -> nn.Module:
    model = DigitsRGB()
    weights = os.environ.get("DIGITS_CNN_WEIGHTS")
    if weights:
        model.load_state_dict(torch.load(weights, weights_only=True))
    return model


def train_rgb_digits(
    images: np.ndarray, labels: np.ndarray, epochs: int = 15
) -> dict[str, torch.Tensor]:
    """Train :class:`DigitsRGB` on ``[n, 8, 8]`` images in 0..1; return its state dict."""
    torch.manual_seed(0)
    model = DigitsRGB()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    x = torch.from_numpy(np.repeat(images[:, None].astype(np.float32), 3, axis=1))
    y = torch.from_numpy(labels.astype(np.int64))
    for _ in range(epochs):
        for i in range(0, len(x), 64):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x[i : i + 64]), y[i : i + 64])
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
    return model.state_dict()
