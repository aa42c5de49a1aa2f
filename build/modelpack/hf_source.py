"""Load a Hugging Face model directory as a sentence-embedding model.

The directory needs ``config.json``, ``model.safetensors`` and ``tokenizer.json``. The
exported graph is the encoder followed by mean pooling and L2 normalisation, so the
runtime only tokenizes and runs it.
"""

from __future__ import annotations

import inspect
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from build_support.hashing import sha256_file
from modelpack.errors import ModelSourceError
from modelpack.signature import TensorSpec
from modelpack.source_model import TASK_SENTENCE_EMBEDDING, Batch, SourceModel
from naive_reference.pooling import mean_pool_l2

logger = logging.getLogger(__name__)

REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")
# Model types whose exported graph ONNX Runtime's BERT optimiser knows how to fuse.
BERT_FAMILY = frozenset({"bert", "roberta", "xlm-roberta", "electra", "camembert"})
EVAL_BATCH_SIZE = 8
LATENCY_TEXT = "Cold starts are the enemy of machine learning on AWS Lambda."


class SentenceEmbedder(torch.nn.Module):
    """Encoder plus pooling: ``[batch, seq]`` token ids to ``[batch, dim]`` unit vectors."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state
        return mean_pool_l2(hidden, attention_mask)


def prepare_tokenizer(path: Path, max_length: int) -> Tokenizer:
    """Load ``tokenizer.json`` padding to the longest text (not a fixed length) and truncating.

    Many published tokenizer files pad every input to 128 tokens: a several-fold slowdown
    on short texts that looks like a slow model.
    """
    tokenizer = Tokenizer.from_file(str(path))
    old = tokenizer.padding or {}
    pad_token = old.get("pad_token") or "[PAD]"
    pad_id = old.get("pad_id")
    if pad_id is None:
        pad_id = tokenizer.token_to_id(pad_token)
    if pad_id is None:
        raise ModelSourceError(
            f"{path} defines no padding token",
            "add a padding section or a [PAD] token to tokenizer.json",
        )
    tokenizer.no_padding()
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token, pad_type_id=0)
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def encode(tokenizer: Tokenizer, texts: list[str], with_type_ids: bool) -> Batch:
    """Tokenize ``texts`` into int64 arrays named like the exported model's inputs."""
    encodings = tokenizer.encode_batch(texts)
    batch: Batch = {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
    }
    if with_type_ids:
        batch["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
    return batch


def load_hf_directory(
    model_dir: Path,
    texts: list[str],
    name: str | None = None,
    max_length: int | None = None,
    origin: dict[str, Any] | None = None,
) -> SourceModel:
    """Load and validate ``model_dir``; ``texts`` become the evaluation batches."""
    _check_files(model_dir)
    config = _read_config(model_dir / "config.json")
    limit = int(config.get("max_position_embeddings") or 512)
    chosen_length = min(max_length or _default_max_length(model_dir, limit), limit)
    tokenizer = prepare_tokenizer(model_dir / "tokenizer.json", chosen_length)
    encoder = _load_encoder(model_dir)
    with_type_ids = "token_type_ids" in inspect.signature(encoder.forward).parameters
    module = SentenceEmbedder(encoder).eval()

    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if with_type_ids else [])
    inputs = tuple(TensorSpec(n, "int64", ("batch", "sequence")) for n in names)
    hidden = int(config["hidden_size"])
    outputs = (TensorSpec("sentence_embedding", "float32", ("batch", hidden)),)
    evaluation = [
        encode(tokenizer, texts[i : i + EVAL_BATCH_SIZE], with_type_ids)
        for i in range(0, len(texts), EVAL_BATCH_SIZE)
    ]
    model_type = str(config.get("model_type", ""))
    heads = config.get("num_attention_heads")
    bert_shape = (int(heads), hidden) if model_type in BERT_FAMILY and heads else None
    source = {
        "kind": "huggingface-directory",
        "model_type": model_type,
        "architectures": config.get("architectures", []),
        "weights_file": "model.safetensors",
        "weights_sha256": sha256_file(model_dir / "model.safetensors"),
        "config_sha256": sha256_file(model_dir / "config.json"),
        **(origin or {}),
    }
    return SourceModel(
        name=name or model_dir.name,
        task=TASK_SENTENCE_EMBEDDING,
        module=module,
        inputs=inputs,
        outputs=outputs,
        evaluation=evaluation,
        calibration=[],  # transformers use dynamic quantization: no calibration
        latency_input=encode(tokenizer, [LATENCY_TEXT], with_type_ids),
        source=source,
        tokenizer=tokenizer,
        max_length=chosen_length,
        bert_shape=bert_shape,
    )


def _check_files(model_dir: Path) -> None:
    if not model_dir.is_dir():
        raise ModelSourceError(
            f"model directory {model_dir} does not exist or is not a directory",
            "pass --model-dir pointing at a Hugging Face model directory"
            " (config.json, model.safetensors, tokenizer.json)",
        )
    try:
        present = {entry.name for entry in model_dir.iterdir() if entry.is_file()}
    except PermissionError:
        raise ModelSourceError(
            f"cannot read model directory {model_dir} (permission denied)",
            "check the directory's permissions, or copy the model somewhere readable",
        ) from None
    missing = [f for f in REQUIRED_FILES if f not in present]
    if missing:
        raise ModelSourceError(
            f"model directory {model_dir} lacks {', '.join(missing)}",
            "save the model with save_pretrained(..., safe_serialization=True) and its fast"
            " tokenizer with tokenizer.save_pretrained(...) into that directory",
        )
    unreadable = [f for f in REQUIRED_FILES if not _readable(model_dir / f)]
    if unreadable:
        raise ModelSourceError(
            f"cannot read {', '.join(unreadable)} in {model_dir}",
            "check the files' permissions",
        )


def _readable(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError:
        return False
    return True


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelSourceError(
            f"{path} is not valid JSON: {exc}", "restore the model's config.json"
        ) from None
    if not isinstance(config, dict) or "hidden_size" not in config:
        raise ModelSourceError(
            f"{path} has no hidden_size: not a transformer encoder config",
            "pass the directory of an encoder model (BERT, RoBERTa, MiniLM, ...)",
        )
    return config


def _default_max_length(model_dir: Path, limit: int) -> int:
    """sentence-transformers' max_seq_length when present, else the tokenizer's truncation."""
    st_config = model_dir / "sentence_bert_config.json"
    if st_config.is_file():
        try:
            return int(json.loads(st_config.read_text(encoding="utf-8"))["max_seq_length"])
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring unreadable %s", st_config)
    truncation = Tokenizer.from_file(str(model_dir / "tokenizer.json")).truncation
    if truncation and truncation.get("max_length"):
        return int(truncation["max_length"])
    return limit


def _load_encoder(model_dir: Path) -> torch.nn.Module:
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        # eager attention: the graph ONNX Runtime's transformer optimiser fuses best.
        model, info = AutoModel.from_pretrained(
            model_dir, attn_implementation="eager", output_loading_info=True
        )
    except Exception as exc:  # any failure here is the user's weights or config
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelSourceError(
            f"the weights in {model_dir} do not load with its config.json: {first_line}",
            "make config.json and model.safetensors come from the same save_pretrained() call",
        ) from exc
    missing = sorted(info.get("missing_keys") or [])
    mismatched = list(info.get("mismatched_keys") or [])
    if missing or mismatched:
        raise ModelSourceError(
            f"the weights in {model_dir} do not match its config.json: "
            f"{len(missing)} missing tensors (e.g. {missing[:3]}), "
            f"{len(mismatched)} with the wrong shape",
            "make config.json and model.safetensors come from the same save_pretrained() call",
        )
    encoder: torch.nn.Module = model.eval()
    return encoder
