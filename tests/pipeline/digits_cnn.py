"""A small CNN for scikit-learn's 8x8 digits, importable as ``--module digits_cnn:make_model``.

The tests train it once, save the weights, and point ``DIGITS_CNN_WEIGHTS`` at them.
"""

from __future__ import annotations

import os

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
    """The trained 1-channel CNN behind an RGB input (grey pixels: all channels equal)."""
    model = DigitsRGB()
    weights = os.environ.get("DIGITS_CNN_WEIGHTS")
    if weights:
        model.cnn.load_state_dict(torch.load(weights, weights_only=True))
    return model
