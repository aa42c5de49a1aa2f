"""Embed texts with a built sentence-embedding artefact (tokenizers + ONNX Runtime).

The build tools' view of an artefact, for the benchmark; the Lambda function has its own
loader in ``ml_runtime``, which also verifies the manifest's hashes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from ml_runtime.names import MANIFEST_NAME
from modelpack.evaluate import session


class ArtifactEmbedder:
    def __init__(
        self, artifact: Path, threads: int = 1, disabled_optimizers: Sequence[str] | None = None
    ) -> None:
        """``disabled_optimizers`` overrides the manifest's session settings (for ablations)."""
        manifest = json.loads((artifact / MANIFEST_NAME).read_text(encoding="utf-8"))
        if manifest.get("task") != "sentence-embedding" or not manifest.get("tokenizer"):
            raise ValueError(f"{artifact} is not a sentence-embedding artefact")
        self.tokenizer = Tokenizer.from_file(str(artifact / manifest["tokenizer"]["file"]))
        if disabled_optimizers is None:
            disabled_optimizers = manifest.get("session", {}).get("disabled_optimizers", [])
        self.session = session(
            artifact / manifest["model_file"],
            threads=threads,
            disabled_optimizers=disabled_optimizers,
        )
        self.input_names = [spec["name"] for spec in manifest["inputs"]]

    def embed(self, texts: list[str]) -> np.ndarray[Any, Any]:
        """``[len(texts), dim]`` unit vectors; the batch is padded to its longest text."""
        encodings = self.tokenizer.encode_batch(texts)
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        feed = {name: np.array(columns[name], dtype=np.int64) for name in self.input_names}
        result: np.ndarray[Any, Any] = self.session.run(None, feed)[0]
        return result
