"""Fixtures for the model pipeline tests: small real models built on the spot."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import BertConfig, BertModel

from modelpack.pipeline import BuildOptions, build
from modelpack.sources import load_source

WORDS = [
    "the",
    "a",
    "cold",
    "start",
    "model",
    "lambda",
    "function",
    "fast",
    "slow",
    "cat",
    "dog",
    "runs",
    "sleeps",
    "on",
    "mat",
    "memory",
    "image",
    "container",
    "quantize",
    "accuracy",
    "gate",
    "text",
    "embedding",
    "short",
    "long",
]


def _tiny_tokenizer() -> Tokenizer:
    vocab = {tok: i for i, tok in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    # Like many published tokenizer files: fixed padding that the build must reset.
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=32)
    return tokenizer


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BERT-style encoder with random weights saved as a Hugging Face directory."""
    directory = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(WORDS) + 4,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(directory)
    _tiny_tokenizer().save(str(directory / "tokenizer.json"))
    return directory


@pytest.fixture(scope="session")
def default_artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """The real all-MiniLM-L6-v2 artefact, built once for the whole session."""
    output = tmp_path_factory.mktemp("default") / "all-MiniLM-L6-v2"
    manifest = build(load_source(), BuildOptions(output=output, latency_runs=20))
    return output, manifest
