"""Load a Hugging Face model directory: a sentence encoder or a text classifier.

The directory needs ``config.json``, ``model.safetensors`` and ``tokenizer.json``; what it
is comes from its config (:mod:`modelpack.detect`). A sentence encoder's graph is the
encoder followed by mean pooling and L2 normalisation, so the runtime only tokenizes and
runs it; a ``*ForSequenceClassification`` model's graph ends in its ``logits``. Image
classifiers are loaded by :mod:`modelpack.hf_image_source`, which shares the helpers
below; :mod:`modelpack.sources` picks between them.
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
from modelpack.detect import POSITION_OFFSET_FAMILIES, Detected, detect, read_config
from modelpack.errors import ModelSourceError
from modelpack.hf_loading import WEIGHTS_FILE, check_files, load_pretrained
from modelpack.signature import TensorSpec
from modelpack.source_model import (
    TASK_TEXT_CLASSIFICATION,
    Batch,
    Classification,
    SourceModel,
    TransformerShape,
)
from naive_reference.pooling import mean_pool_l2

logger = logging.getLogger(__name__)

REQUIRED_FILES = ("config.json", WEIGHTS_FILE, "tokenizer.json")
_HOW_TO_SAVE = (
    "save the model with save_pretrained(..., safe_serialization=True) and its fast"
    " tokenizer with tokenizer.save_pretrained(...) into that directory"
)
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
    pad_token, pad_id = _pad_token(tokenizer, path)
    tokenizer.no_padding()
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token, pad_type_id=0)
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def _pad_token(tokenizer: Tokenizer, path: Path) -> tuple[str, int]:
    """The padding token and its id, from wherever a Hugging Face directory keeps them.

    ``tokenizer.json``'s padding section when it has one; otherwise the ``pad_token`` of
    ``tokenizer_config.json`` or ``special_tokens_map.json`` beside it (transformers
    saves RoBERTa-style tokenizers with ``"padding": null`` and ``<pad>`` there), then
    ``config.json``'s ``pad_token_id``, then a token named ``[PAD]`` (BERT's vocabulary).
    """
    padding = tokenizer.padding or {}
    if padding.get("pad_token") and padding.get("pad_id") is not None:
        return str(padding["pad_token"]), int(padding["pad_id"])
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        token = _token_content(_json_field(path.parent / name, "pad_token"))
        token_id = tokenizer.token_to_id(token) if token is not None else None
        if token is not None and token_id is not None:
            return token, token_id
    pad_id = _json_field(path.parent / "config.json", "pad_token_id")
    if isinstance(pad_id, int) and not isinstance(pad_id, bool):
        token = tokenizer.id_to_token(pad_id)
        if token is not None:
            return token, pad_id
    pad_id = tokenizer.token_to_id("[PAD]")
    if pad_id is not None:
        return "[PAD]", pad_id
    raise ModelSourceError(
        f"{path} defines no padding token: tokenizer.json has no padding section, no"
        " pad_token is named in tokenizer_config.json or special_tokens_map.json, no"
        " pad_token_id in config.json, and the vocabulary has no [PAD]",
        "set the tokenizer's pad token and save it again (in transformers:"
        " tokenizer.pad_token = ...; tokenizer.save_pretrained(DIR)), or add a padding"
        " section to tokenizer.json",
    )


def _json_field(path: Path, key: str) -> Any:
    """``key`` of the JSON object in ``path``; None when the file or the key is absent."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document.get(key) if isinstance(document, dict) else None


def _token_content(value: Any) -> str | None:
    """A special token as transformers writes it: a string, or an object with "content"."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) and value else None


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


def truncation_limit_input(tokenizer: Tokenizer, texts: list[str], with_type_ids: bool) -> Batch:
    """One text as long as the tokenizer lets through (``texts`` run together and cut at
    the truncation limit): the worst case of a mixed-length S3 batch."""
    return encode(tokenizer, [" ".join(texts)], with_type_ids)


def detect_directory(model_dir: Path, task: str | None = None) -> Detected:
    """What ``model_dir`` holds (:mod:`modelpack.detect`), once it is known to be readable."""
    check_files(model_dir, ("config.json",), _HOW_TO_SAVE)
    return detect(model_dir, read_config(model_dir), task)


def load_hf_directory(
    model_dir: Path,
    detected: Detected,
    texts: list[str],
    *,
    name: str | None = None,
    max_length: int | None = None,
    origin: dict[str, Any] | None = None,
) -> SourceModel:
    """Load and validate a text model directory (an encoder or a sequence classifier);
    ``texts`` become the evaluation batches."""
    check_files(model_dir, REQUIRED_FILES, _HOW_TO_SAVE)
    hf_config = _auto_config(model_dir)
    limit = int(getattr(hf_config, "max_position_embeddings", None) or 512)
    if detected.model_type in POSITION_OFFSET_FAMILIES:
        limit -= 2
    chosen_length = min(max_length or _default_max_length(model_dir, limit), limit)
    if max_length is not None and max_length > limit:
        logger.warning(
            "--max-length %d is more than the model's %d positions; texts are cut at %d tokens",
            max_length,
            limit,
            limit,
        )
    tokenizer = prepare_tokenizer(model_dir / "tokenizer.json", chosen_length)
    labels: tuple[str, ...] = ()
    classification = None
    if detected.task == TASK_TEXT_CLASSIFICATION:
        from transformers import AutoModelForSequenceClassification

        classifier = load_pretrained(AutoModelForSequenceClassification, model_dir)
        with_type_ids = "token_type_ids" in inspect.signature(classifier.forward).parameters
        module: torch.nn.Module = LogitsOnly(classifier, _text_inputs(with_type_ids)).eval()
        labels = detected.labels
        classification = Classification(multi_label=detected.multi_label)
        outputs = (TensorSpec("logits", "float32", ("batch", len(labels))),)
    else:
        from transformers import AutoModel

        # Mean pooling replaces the [CLS] pooler: a directory saved without one (as
        # sentence-transformers often saves them) is complete for this graph.
        encoder = load_pretrained(AutoModel, model_dir, unused=("pooler.",))
        with_type_ids = "token_type_ids" in inspect.signature(encoder.forward).parameters
        module = SentenceEmbedder(encoder).eval()
        hidden = int(hf_config.hidden_size)
        outputs = (TensorSpec("sentence_embedding", "float32", ("batch", hidden)),)

    inputs = tuple(
        TensorSpec(n, "int64", ("batch", "sequence")) for n in _text_inputs(with_type_ids)
    )
    evaluation = [
        encode(tokenizer, texts[i : i + EVAL_BATCH_SIZE], with_type_ids)
        for i in range(0, len(texts), EVAL_BATCH_SIZE)
    ]
    source_model = SourceModel(
        name=name or model_dir.name,
        task=detected.task,
        module=module,
        inputs=inputs,
        outputs=outputs,
        evaluation=evaluation,
        calibration=[],  # transformers use dynamic quantization: no calibration
        latency_input=encode(tokenizer, [LATENCY_TEXT], with_type_ids),
        long_latency_input=truncation_limit_input(tokenizer, texts, with_type_ids),
        source=describe_source(model_dir, detected, origin),
        tokenizer=tokenizer,
        max_length=chosen_length,
        transformer=transformer_shape(detected, hf_config),
        labels=labels,
        classification=classification,
    )
    check_label_count(source_model)
    return source_model


class LogitsOnly(torch.nn.Module):
    """A Hugging Face classifier as a graph with one output, ``logits`` (no activation)."""

    def __init__(self, model: torch.nn.Module, input_names: list[str]) -> None:
        super().__init__()
        self.model = model
        self.input_names = input_names

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        """Positional inputs in ``input_names`` order (as the exporter passes them)."""
        kwargs = dict(zip(self.input_names, args, strict=True))
        logits: torch.Tensor = self.model(**kwargs).logits
        return logits


def describe_source(
    model_dir: Path, detected: Detected, origin: dict[str, Any] | None
) -> dict[str, Any]:
    """The manifest's ``source``: where the weights came from and what they are."""
    return {
        "kind": "huggingface-directory",
        "model_type": detected.model_type,
        "architectures": [detected.architecture] if detected.architecture else [],
        "weights_file": WEIGHTS_FILE,
        "weights_sha256": sha256_file(model_dir / WEIGHTS_FILE),
        "config_sha256": sha256_file(model_dir / "config.json"),
        **(origin or {}),
    }


def transformer_shape(detected: Detected, hf_config: Any) -> TransformerShape | None:
    if detected.optimizer_model_type is None:
        return None
    return TransformerShape(
        detected.optimizer_model_type,
        int(hf_config.num_attention_heads),
        int(hf_config.hidden_size),
    )


def check_label_count(source: SourceModel) -> None:
    """The classifier's logits have one entry per label, or the labels are wrong."""
    if not source.labels:
        return
    width = source.torch_outputs(source.evaluation[0])[0].shape[-1]
    if width != len(source.labels):
        raise ModelSourceError(
            f"the model answers {width} logits but config.json names {len(source.labels)}"
            f" labels ({list(source.labels)[:5]}...)",
            "make id2label (and num_labels) in config.json list one name per output class",
        )


def _text_inputs(with_type_ids: bool) -> list[str]:
    return ["input_ids", "attention_mask"] + (["token_type_ids"] if with_type_ids else [])


def _auto_config(model_dir: Path) -> Any:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(model_dir)
    except Exception as exc:  # transformers raises many types for a bad config
        raise ModelSourceError(
            f"{model_dir / 'config.json'} is not a config transformers can read: {exc}",
            "restore the model's config.json from its save_pretrained() call",
        ) from None


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
