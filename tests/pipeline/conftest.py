"""Fixtures for the model pipeline tests: small real models built on the spot."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    DeiTConfig,
    DeiTForImageClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    MPNetConfig,
    MPNetModel,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaForSequenceClassification,
    ViTConfig,
    ViTForImageClassification,
)

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


def settings(**values: Any) -> dict[str, Any]:
    """Config keyword arguments, untyped: transformers' config classes declare only their
    own fields, though every config takes num_labels, id2label and the like."""
    return values


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
        **settings(
            vocab_size=len(WORDS) + 4,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=64,
        )
    )
    BertModel(config).save_pretrained(directory)
    _tiny_tokenizer().save(str(directory / "tokenizer.json"))
    return directory


TINY: dict[str, Any] = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4}


def _sharpen_head(model: torch.nn.Module) -> None:
    """Random weights give logits near zero, where any rounding flips the winner; a
    larger classifier makes the tiny models' answers decisive, as trained ones are."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "classifier" in name and name.endswith("weight"):
                parameter.mul_(30.0)


def _save_text_model(model: Any, directory: Path) -> Path:
    _sharpen_head(model)
    model.save_pretrained(directory)
    _tiny_tokenizer().save(str(directory / "tokenizer.json"))
    return directory


@pytest.fixture(scope="session")
def tiny_bert_classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BertForSequenceClassification sentiment-style model (single-label, 2 classes)."""
    torch.manual_seed(1)
    config = BertConfig(
        **settings(
            vocab_size=len(WORDS) + 4,
            intermediate_size=64,
            max_position_embeddings=64,
            num_labels=2,
            id2label={0: "NEGATIVE", 1: "POSITIVE"},
            label2id={"NEGATIVE": 0, "POSITIVE": 1},
            **TINY,
        )
    )
    model = BertForSequenceClassification(config)
    return _save_text_model(model, tmp_path_factory.mktemp("tiny-bert-sst"))


@pytest.fixture(scope="session")
def tiny_distilbert_multilabel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DistilBertForSequenceClassification with three independent labels."""
    torch.manual_seed(2)
    labels = ["toxic", "spam", "urgent"]
    config = DistilBertConfig(
        **settings(
            vocab_size=len(WORDS) + 4,
            dim=32,
            n_layers=2,
            n_heads=4,
            hidden_dim=64,
            max_position_embeddings=64,
            num_labels=3,
            id2label=dict(enumerate(labels)),
            label2id={name: i for i, name in enumerate(labels)},
            problem_type="multi_label_classification",
        )
    )
    model = DistilBertForSequenceClassification(config)
    return _save_text_model(model, tmp_path_factory.mktemp("tiny-distilbert-tags"))


@pytest.fixture(scope="session")
def tiny_roberta_classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A RobertaForSequenceClassification whose tokenizer is saved the way transformers
    saves RoBERTa's: no padding section in tokenizer.json, ``<pad>`` (id 1) named only in
    tokenizer_config.json, and no ``[PAD]`` in the vocabulary."""
    torch.manual_seed(6)
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    config = RobertaConfig(
        **settings(
            vocab_size=len(WORDS) + len(specials),
            intermediate_size=64,
            max_position_embeddings=66,  # RoBERTa's positions start after pad_token_id
            pad_token_id=1,
            type_vocab_size=1,
            num_labels=2,
            id2label={0: "NEGATIVE", 1: "POSITIVE"},
            label2id={"NEGATIVE": 0, "POSITIVE": 1},
            **TINY,
        )
    )
    directory = tmp_path_factory.mktemp("tiny-roberta-sst")
    model = RobertaForSequenceClassification(config)
    _sharpen_head(model)
    model.save_pretrained(directory)
    vocab = {token: i for i, token in enumerate([*specials, *WORDS])}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
    )
    fast.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_mpnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MPNet encoder (relative position bias, RoBERTa-style positions): a non-BERT family."""
    torch.manual_seed(3)
    config = MPNetConfig(
        **settings(
            vocab_size=len(WORDS) + 4,
            intermediate_size=64,
            max_position_embeddings=66,
            pad_token_id=0,
            relative_attention_num_buckets=32,  # transformers buckets by 32 whatever it says
            **TINY,
        )
    )
    directory = tmp_path_factory.mktemp("tiny-mpnet")
    MPNetModel(config, add_pooling_layer=False).save_pretrained(directory)
    _tiny_tokenizer().save(str(directory / "tokenizer.json"))
    return directory


def write_pattern_images(directory: Path, count: int, seed: int) -> Path:
    """``count`` PNG and JPEG images of three kinds of pattern (stripes, checks, blobs),
    of varied sizes and aspect ratios, so resizing and cropping matter."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        width, height = int(rng.integers(40, 90)), int(rng.integers(40, 90))
        y, x = np.mgrid[0:height, 0:width]
        kind = index % 3
        period = int(rng.integers(4, 10))
        if kind == 0:
            base = (x // period) % 2
        elif kind == 1:
            base = ((x // period) + (y // period)) % 2
        else:
            base = ((x - width / 2) ** 2 + (y - height / 2) ** 2 < (width / 3) ** 2).astype(int)
        colour = rng.integers(0, 256, size=3)
        pixels = (base[..., None] * colour + rng.normal(0, 12, (height, width, 3))).clip(0, 255)
        image = Image.fromarray(pixels.astype(np.uint8), "RGB")
        suffix = ".png" if index % 2 else ".jpg"
        image.save(directory / f"pattern-{index:03d}{suffix}")
    return directory


@pytest.fixture(scope="session")
def make_pattern_images() -> Callable[[Path, int, int], Path]:
    return write_pattern_images


@pytest.fixture(scope="session")
def pattern_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pattern_images(tmp_path_factory.mktemp("images"), 48, seed=0)


def _tiny_image_classifier(
    directory: Path,
    config_class: Any,
    model_class: Any,
    seed: int,
    processor: dict[str, Any],
) -> Path:
    """A tiny three-label ViT-family classifier on 32x32 inputs, saved with ``processor``
    as its preprocessor_config.json."""
    torch.manual_seed(seed)
    labels = ["stripes", "checks", "blob"]
    config = config_class(
        **settings(
            image_size=32,
            patch_size=8,
            intermediate_size=64,
            num_labels=3,
            id2label=dict(enumerate(labels)),
            label2id={name: i for i, name in enumerate(labels)},
            **TINY,
        )
    )
    model = model_class(config)
    _sharpen_head(model)
    model.save_pretrained(directory)
    (directory / "preprocessor_config.json").write_text(json.dumps(processor))
    return directory


@pytest.fixture(scope="session")
def tiny_vit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ViTForImageClassification on 32x32 images with its image processor settings."""
    processor = {
        "image_processor_type": "ViTImageProcessor",
        "do_resize": True,
        "size": {"height": 32, "width": 32},
        "resample": 2,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
    }
    return _tiny_image_classifier(
        tmp_path_factory.mktemp("tiny-vit"), ViTConfig, ViTForImageClassification, 4, processor
    )


@pytest.fixture(scope="session")
def tiny_deit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DeiTForImageClassification on 32x32 crops with DeiT's shipped processor settings
    at a smaller scale: an integer ``size`` (a 40 x 40 resize for a DeiT processor, not a
    shortest edge) and a centre crop."""
    processor = {
        "feature_extractor_type": "DeiTFeatureExtractor",
        "do_resize": True,
        "size": 40,
        "resample": 3,
        "do_center_crop": True,
        "crop_size": 32,
        "do_normalize": True,
        "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225],
    }
    return _tiny_image_classifier(
        tmp_path_factory.mktemp("tiny-deit"), DeiTConfig, DeiTForImageClassification, 5, processor
    )


HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def digits_cnn_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits CNN (``digits_cnn.py``) trained once on 1,400 of scikit-learn's digits;
    the other 397 (``np.random.default_rng(0).permutation``) stay held out."""
    import sys

    from sklearn.datasets import load_digits

    sys.path.insert(0, str(HERE))  # --module digits_cnn:... imports it by name
    from digits_cnn import DigitsCNN  # type: ignore[import-not-found]

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    train = np.random.default_rng(0).permutation(len(images))[:1400]
    torch.manual_seed(0)
    model = DigitsCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    x = torch.from_numpy(images[train])
    y = torch.from_numpy(digits.target[train].astype(np.int64))
    for _ in range(15):
        for i in range(0, len(x), 64):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[i : i + 64]), y[i : i + 64])
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
    path = tmp_path_factory.mktemp("digits-weights") / "weights.pt"
    torch.save(model.state_dict(), path)
    return path
