"""A small text classifier that is not a Hugging Face model, for ``--module text_models:make``."""

from __future__ import annotations

import torch
from torch import nn

VOCAB = 40


class BagOfWords(nn.Module):
    """Mean of token embeddings over the attention mask, then a linear layer: 3 classes."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.embed = nn.Embedding(VOCAB, 16)
        self.head = nn.Linear(16, 3)
        with torch.no_grad():
            self.head.weight.mul_(20.0)  # decisive answers, as a trained head gives

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (self.embed(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        logits: torch.Tensor = self.head(pooled)
        return logits


def make() -> nn.Module:
    return BagOfWords()
