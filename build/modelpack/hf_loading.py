"""Shared checks for Hugging Face directories: the files, and weights that really load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from modelpack.errors import ModelSourceError

WEIGHTS_FILE = "model.safetensors"


def check_files(model_dir: Path, required: tuple[str, ...], how_to_save: str) -> None:
    """Every file in ``required`` is present and readable, or a ModelSourceError."""
    if not model_dir.is_dir():
        raise ModelSourceError(
            f"model directory {model_dir} does not exist or is not a directory",
            f"pass --model-dir pointing at a Hugging Face model directory ({', '.join(required)})",
        )
    try:
        present = {entry.name for entry in model_dir.iterdir() if entry.is_file()}
    except PermissionError:
        raise ModelSourceError(
            f"cannot read model directory {model_dir} (permission denied)",
            "check the directory's permissions, or copy the model somewhere readable",
        ) from None
    missing = [f for f in required if f not in present]
    if missing:
        raise ModelSourceError(
            f"model directory {model_dir} lacks {', '.join(missing)}", how_to_save
        )
    unreadable = [f for f in required if not _readable(model_dir / f)]
    if unreadable:
        raise ModelSourceError(
            f"cannot read {', '.join(unreadable)} in {model_dir}", "check the files' permissions"
        )


def load_pretrained(
    auto_class: Any, model_dir: Path, unused: tuple[str, ...] = ()
) -> torch.nn.Module:
    """``auto_class.from_pretrained(model_dir)`` in eval mode, refusing partial loads.

    Weights that do not match the config (missing tensors, wrong shapes) are refused
    rather than silently re-initialised: a classifier head initialised at random would
    still answer, wrongly. Missing tensors under an ``unused`` prefix are allowed: they
    belong to parts the exported graph never runs (a sentence encoder's pooler).
    """
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        # eager attention: the graph ONNX Runtime's transformer optimiser fuses best.
        model, info = auto_class.from_pretrained(
            model_dir, attn_implementation="eager", output_loading_info=True
        )
    except Exception as exc:  # any failure here is the user's weights or config
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelSourceError(
            f"the weights in {model_dir} do not load with its config.json: {first_line}",
            "make config.json and model.safetensors come from the same save_pretrained() call",
        ) from exc
    missing = sorted(k for k in info.get("missing_keys") or [] if not k.startswith(unused))
    mismatched = list(info.get("mismatched_keys") or [])
    if missing or mismatched:
        raise ModelSourceError(
            f"the weights in {model_dir} do not match its config.json: "
            f"{len(missing)} missing tensors (e.g. {missing[:3]}), "
            f"{len(mismatched)} with the wrong shape",
            "make config.json and model.safetensors come from the same save_pretrained() call",
        )
    module: torch.nn.Module = model.eval()
    return module


def _readable(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError:
        return False
    return True
