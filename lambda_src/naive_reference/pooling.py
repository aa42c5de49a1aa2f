"""Sentence-embedding pooling: mean over real tokens, then L2 normalisation.

This is how all-MiniLM-L6-v2 (and sentence-transformers models in general) turn token
states into one vector per text. The naive handler and the ONNX export wrapper both call
this function, so the baseline and the exported graph cannot drift apart.
"""

from __future__ import annotations

import torch


def mean_pool_l2(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """``[batch, seq, dim]`` token states and ``[batch, seq]`` mask to ``[batch, dim]``."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    summed = (last_hidden_state * mask).sum(dim=1)
    # clamp: a fully padded row would divide by zero.
    counts = mask.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(summed / counts, p=2.0, dim=1)
