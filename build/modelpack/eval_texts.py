"""The evaluation texts shipped with the package (one per line; varied length, topic, script)."""

from __future__ import annotations

import importlib.resources


def evaluation_texts() -> list[str]:
    data = importlib.resources.files("modelpack") / "data" / "eval_texts.txt"
    lines = data.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip()]
