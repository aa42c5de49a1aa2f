"""The benchmark's classifier cases, made offline and deterministically.

    python -m modelpack.bench_models sentiment --output DIR
    python -m modelpack.bench_models bert-base --output DIR
    python -m modelpack.bench_models digits-images --output DIR   # also DIR/images, DIR/heldout
    python -m modelpack.bench_models digits-resnet18 --output DIR  # the same, ResNet-18

- ``sentiment``: the bundled all-MiniLM-L6-v2 encoder fine-tuned with a sentiment head
  (``BertForSequenceClassification``, NEGATIVE/POSITIVE) for two epochs on 2,400
  template sentences scored by VADER's lexicon (the ``vaderSentiment`` package), seed 0;
  the other 600 measure its accuracy against VADER's label and gate the INT8 artefact.
  The head learns VADER's compound score as a probability (P(POSITIVE) = (1 + compound)
  / 2, soft targets: distillation from the lexicon), so its confidence follows the
  strength of the sentiment, as a calibrated classifier's does. Trained on hard 0/1
  labels instead, the model grows steep near its boundary (1% weight noise moved its
  least certain answers by 0.04) and no INT8 candidate keeps within the gate's 0.05.
  About a minute on an idle 2-core CPU.
- ``bert-base``: a BERT-base-sized classifier (110 M parameters) with random weights,
  the source documents' headline cold-start case; only its size and shape matter.
- ``digits-images``: a MobileNetV2 image classifier (``MobileNetV2ForImageClassification``,
  2.2 M parameters with 10 classes, 224x224) trained from scratch on scikit-learn's 8x8
  digits drawn large in dark ink, turned a little, on light paper-coloured noise;
  ``images/`` (for the gate) and ``heldout/`` (for the benchmark) hold PNG and JPEG files
  of digits it never saw. The pictures are preprocessed once into a tensor; training runs
  channels-last from He-initialised weights with averaged BatchNorm statistics
  (:func:`prepare_for_training`), one-cycle AdamW, first many cheap steps at 64x64, then a
  few epochs at 224x224. About ten minutes on an idle 2-core CPU; the maker refuses to
  write a model below 90% held-out accuracy (an untrained network's near-ties would make
  the INT8 gate meaningless).
- ``digits-resnet18``: the same pictures, recipe and folders for a ResNet-18
  (``ResNetForImageClassification``, basic blocks, 11.2 M parameters with 10 classes) with
  microsoft/resnet-18's ConvNeXt-style processor settings. About twenty minutes.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from build_support.atomic import staged_directory
from build_support.logs import configure, event
from build_support.progress import step
from modelpack.default_model import default_model_dir
from modelpack.errors import BenchCaseError, ModelpackError

logger = logging.getLogger("modelpack.bench_models")

SEED = 0
SENTIMENT_LABELS = ("NEGATIVE", "POSITIVE")
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
IMAGE_SIZE = 224
# The digits case must be a trained classifier with decisive answers, like a user's.
MIN_DIGITS_ACCURACY = 0.9
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
)

_TEMPLATES = (
    "The {noun} was {word}.",
    "I found the {noun} {word}.",
    "What a {word} {noun}!",
    "Honestly, the {noun} felt {word}.",
    "The {noun} is not {word} at all.",
    "Our {noun} turned out {word}, as expected.",
    "Everyone said the {noun} was {word}.",
    "It was a {word} {noun}, but the {noun2} was {word2}.",
    "Not a {word} {noun}.",
    "The {noun} was {word} and {word2}.",
)
_NOUNS = (
    "movie", "service", "meal", "hotel", "flight", "phone", "update", "concert", "book",
    "deployment", "support team", "weekend", "coffee", "lecture", "game", "app",
)  # fmt: skip


def _sentiment_texts(count: int) -> tuple[list[str], list[float]]:
    """Template sentences with lexicon words, and VADER's compound score of each."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    words = sorted(w for w, v in analyzer.lexicon.items() if w.isalpha() and abs(v) >= 1.5)
    rng = np.random.default_rng(SEED)
    texts: list[str] = []
    scores: list[float] = []
    while len(texts) < count:
        template = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))]
        text = template.format(
            noun=_NOUNS[int(rng.integers(len(_NOUNS)))],
            noun2=_NOUNS[int(rng.integers(len(_NOUNS)))],
            word=words[int(rng.integers(len(words)))],
            word2=words[int(rng.integers(len(words)))],
        )
        score = analyzer.polarity_scores(text)["compound"]
        if abs(score) >= 0.05:  # VADER's own neutral band is left out
            texts.append(text)
            scores.append(float(score))
    return texts, scores


def sentiment_targets(scores: list[float]) -> torch.Tensor:
    """Soft NEGATIVE/POSITIVE targets from VADER compound scores in [-1, 1]:
    P(POSITIVE) = (1 + compound) / 2, so a mixed sentence is taught to be unsure."""
    positive = (1.0 + torch.tensor(scores, dtype=torch.float32)) / 2.0
    return torch.stack([1.0 - positive, positive], dim=1)


def make_sentiment(output: Path, count: int = 3000, epochs: int = 2) -> dict[str, Any]:
    hf = _transformers()
    torch.manual_seed(SEED)
    source = default_model_dir()
    texts, scores = _sentiment_texts(count)
    labels = [int(score > 0) for score in scores]
    tokenizer = hf.AutoTokenizer.from_pretrained(source)
    config = hf.BertConfig.from_pretrained(
        source,
        architectures=["BertForSequenceClassification"],
        num_labels=2,
        id2label=dict(enumerate(SENTIMENT_LABELS)),
        label2id={name: i for i, name in enumerate(SENTIMENT_LABELS)},
    )
    model = hf.BertForSequenceClassification(config)
    encoder = hf.BertModel.from_pretrained(source)
    model.bert.load_state_dict(encoder.state_dict(), strict=False)
    split = int(len(texts) * 0.8)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    order = np.random.default_rng(SEED).permutation(split)
    batch = 32
    model.train()
    with step(
        logger, "fine-tune the sentiment classifier", total=epochs * split, unit="texts"
    ) as progress:
        for _ in range(epochs):
            for start in range(0, split, batch):
                chosen = order[start : start + batch]
                inputs = tokenizer([texts[i] for i in chosen], padding=True, return_tensors="pt")
                target = sentiment_targets([scores[i] for i in chosen])
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(**inputs).logits, target)
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                progress.advance(len(chosen))
    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(split, len(texts), 64):
            inputs = tokenizer(texts[start : start + 64], padding=True, return_tensors="pt")
            predicted = model(**inputs).logits.argmax(1)
            correct += int((predicted == torch.tensor(labels[start : start + 64])).sum())
    with staged_directory(output) as stage:
        model.save_pretrained(stage)
        for name in _TOKENIZER_FILES:
            shutil.copyfile(source / name, stage / name)
        _set_truncation(stage / "tokenizer.json", 256)
        write_eval_texts(stage, texts[split:])
    result: dict[str, Any] = {
        "case": "sentiment",
        "texts": len(texts),
        "held_out_accuracy_vs_vader": round(correct / (len(texts) - split), 4),
    }
    event(logger, "sentiment model written", output=str(output), **result)
    return result


EVAL_TEXTS_FILE = "eval_texts.txt"


def write_eval_texts(directory: Path, texts: list[str]) -> None:
    """The held-out sentences, for the gate (``--eval-texts``): a user gates a sentiment
    model on texts like the ones it serves, not on code and other scripts, where a
    two-class model's fp32 answer is itself a coin toss that any rounding flips."""
    (directory / EVAL_TEXTS_FILE).write_text("\n".join(texts) + "\n", encoding="utf-8")


def _transformers() -> Any:
    """transformers, untyped here: its config classes take their fields as **kwargs."""
    import transformers

    module: Any = transformers
    return module


def _set_truncation(path: Path, max_length: int) -> None:
    """all-MiniLM-L6-v2 reads 256 tokens (its sentence_bert_config); its tokenizer file
    says 128. The classifier keeps the encoder's 256."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.save(str(path))


def make_bert_base(output: Path) -> dict[str, Any]:
    hf = _transformers()
    torch.manual_seed(SEED)
    config = hf.BertConfig(
        architectures=["BertForSequenceClassification"],
        num_labels=2,
        id2label=dict(enumerate(SENTIMENT_LABELS)),
        label2id={name: i for i, name in enumerate(SENTIMENT_LABELS)},
    )  # BERT-base: 12 layers, hidden 768, the uncased 30,522-token vocabulary
    model = hf.BertForSequenceClassification(config).eval()
    with staged_directory(output) as stage:
        model.save_pretrained(stage)
        for name in _TOKENIZER_FILES:
            shutil.copyfile(default_model_dir() / name, stage / name)
    parameters = sum(p.numel() for p in model.parameters())
    result: dict[str, Any] = {"case": "bert-base", "parameters": parameters}
    event(logger, "BERT-base classifier written", output=str(output), **result)
    return result


def _digit_pictures(indices: np.ndarray, seed: int) -> Iterator[tuple[Any, int]]:
    """Each digit drawn large in dark ink, turned by up to 15 degrees, at a random position
    and size, on light paper-coloured noise; the picture's size and aspect ratio vary too.

    The ink is always darker than the paper: with random ink colours on photographs (an
    earlier version) MobileNetV2 from scratch stayed near chance for thousands of steps
    (modelpack README, "Training the digits classifier").
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    for index in indices:
        width, height = int(rng.integers(240, 360)), int(rng.integers(240, 360))
        paper = rng.integers(170, 256, size=3)
        grain = rng.normal(0.0, 12.0, size=(height, width, 1))
        background = Image.fromarray(np.clip(paper + grain, 0, 255).astype(np.uint8))
        side = int(rng.integers(150, min(width, height)))
        glyph = Image.fromarray(np.uint8(digits.images[index] * 255 / 16)).resize(
            (side, side), Image.Resampling.BILINEAR
        )
        glyph = glyph.rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BILINEAR)
        ink = Image.new("RGB", (side, side), tuple(int(c) for c in rng.integers(0, 90, size=3)))
        x = int(rng.integers(0, width - side + 1))
        y = int(rng.integers(0, height - side + 1))
        background.paste(ink, (x, y), glyph)
        yield background, int(digits.target[index])


def prepare_for_training(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` re-initialised for training from scratch, in channels-last layout.

    transformers initialises MobileNetV2's convolutions from N(0, 0.02), 10-20x below the
    He scale of its 1x1 and depthwise kernels: convolutions get He initialisation
    (fan-out, as torchvision's MobileNetV2), linear layers N(0, 0.01). transformers also
    builds its BatchNorms with momentum 0.997, a TensorFlow value that in PyTorch's
    convention makes the running statistics (what evaluation uses) those of the last
    batch alone; 0.1 averages them. Channels-last: one training step measured 1.5x
    (224x224) to 2x (64x64) faster than NCHW on a 2-core AVX2 machine.
    """
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, mode="fan_out")
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.ones_(module.weight)
            torch.nn.init.zeros_(module.bias)
            module.momentum = 0.1
        elif isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, 0.0, 0.01)
            torch.nn.init.zeros_(module.bias)
    # Module.to(memory_format=...) works in place; torch's type stubs lack that overload.
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return model


def train_classifier(
    model: torch.nn.Module,
    pixels: torch.Tensor,
    labels: torch.Tensor,
    epochs: int,
    *,
    batch: int = 32,
    lr: float = 1e-3,
    progress: Any = None,
) -> torch.nn.Module:
    """AdamW with a one-cycle schedule over already preprocessed ``pixels`` (the pictures
    are decoded and normalised once, not every epoch), seeded shuffles; ``model`` is
    trained in place and returned in eval mode."""
    generator = torch.Generator().manual_seed(SEED)
    steps = epochs * max(1, len(pixels) // batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=steps, pct_start=0.15
    )
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(pixels), generator=generator)
        for start in range(0, max(1, len(pixels) - batch + 1), batch):
            chosen = order[start : start + batch]
            # Indexing returns NCHW: back to channels-last for the fast kernels.
            x = pixels[chosen].contiguous(memory_format=torch.channels_last)
            optimizer.zero_grad()
            out = model(x)
            logits = out.logits if hasattr(out, "logits") else out
            loss = torch.nn.functional.cross_entropy(logits, labels[chosen])
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            schedule.step()
            if progress is not None:
                progress.advance(len(chosen))
    return model.eval()


# Pictures per training digit for the low-resolution stage (different position, size,
# turn and colours each): more distinct steps for the same 1,000 digits.
RENDERINGS = 4
# The low-resolution stage: one step at 64 px costs about a twelfth of one at 224 px, and
# MobileNetV2 learns the digits' shapes there; the 224 px stage then adapts it to the size
# it serves (modelpack README, "Training the digits classifier").
LOW_RESOLUTION = 64


def _at_size(block: dict[str, Any], size: int) -> dict[str, Any]:
    """The preprocess ``block`` with its resize and crop scaled to a ``size``-pixel square."""
    shorter = block["resize_shorter_side"]
    return {
        **block,
        "resize_shorter_side": round(size * shorter / block["crop"][0]),
        "crop": [size, size],
    }


def _train_stage(
    model: torch.nn.Module,
    architecture: str,
    pictures: list[tuple[Any, int]],
    block: dict[str, Any],
    epochs: int,
    *,
    batch: int,
    lr: float,
) -> None:
    """One training stage: ``pictures`` preprocessed once with ``block`` (its crop sets
    the resolution), then :func:`train_classifier`, with progress."""
    from modelpack.images import preprocess_images

    size = block["crop"][0]
    with step(
        logger,
        f"train {architecture} on digit pictures at {size} px",
        total=epochs * len(pictures),
        unit="images",
    ) as progress:
        pixels = torch.from_numpy(preprocess_images([p for p, _ in pictures], block))
        labels = torch.tensor([label for _, label in pictures])
        train_classifier(model, pixels, labels, epochs, batch=batch, lr=lr, progress=progress)


@dataclass(frozen=True)
class ImageArchitecture:
    """One image classifier the digits maker can train: its transformers model and the
    image processor settings its published checkpoints ship with."""

    name: str  # as people call it, for messages
    maker: str  # its key in MAKERS
    model_class: str  # a transformers *ForImageClassification class
    config_class: str
    config: dict[str, Any]  # beside the labels, image size and architectures
    processor: dict[str, Any]


_IMAGENET_NORMALIZE = {
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.485, 0.456, 0.406],
    "image_std": [0.229, 0.224, 0.225],
}
IMAGE_ARCHITECTURES = {
    # 2.2 M parameters, depthwise convolutions and ReLU6: the INT8 gate refuses it on the
    # digits (modelpack README, "Static QDQ on MobileNetV2").
    "mobilenet_v2": ImageArchitecture(
        "MobileNetV2",
        "digits-images",
        "MobileNetV2ForImageClassification",
        "MobileNetV2Config",
        {"image_size": IMAGE_SIZE},
        {
            "image_processor_type": "MobileNetV2ImageProcessor",
            "do_resize": True,
            "size": {"shortest_edge": 256},
            "resample": 2,
            "do_center_crop": True,
            "crop_size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
            **_IMAGENET_NORMALIZE,
        },
    ),
    # 11.2 M parameters: ResNet-18's basic blocks, as microsoft/resnet-18 (whose
    # ConvNeXt-style processor resizes to 224 / 0.875 = 256 and crops 224).
    "resnet18": ImageArchitecture(
        "ResNet-18",
        "digits-resnet18",
        "ResNetForImageClassification",
        "ResNetConfig",
        {
            "embedding_size": 64,
            "hidden_sizes": [64, 128, 256, 512],
            "depths": [2, 2, 2, 2],
            "layer_type": "basic",
            "hidden_act": "relu",
            "downsample_in_first_stage": False,
        },
        {
            "image_processor_type": "ConvNextImageProcessor",
            "do_resize": True,
            "size": {"shortest_edge": IMAGE_SIZE},
            "crop_pct": 0.875,
            "resample": 2,
            **_IMAGENET_NORMALIZE,
        },
    ),
}


def digits_model(architecture: str) -> Any:
    """An untrained ``architecture`` (a key of :data:`IMAGE_ARCHITECTURES`) with the ten
    digit labels: a transformers ``PreTrainedModel``."""
    chosen = IMAGE_ARCHITECTURES[architecture]
    hf = _transformers()
    config = getattr(hf, chosen.config_class)(
        **chosen.config,
        num_labels=10,
        id2label=dict(enumerate(DIGIT_NAMES)),
        label2id={name: i for i, name in enumerate(DIGIT_NAMES)},
        architectures=[chosen.model_class],
    )
    return getattr(hf, chosen.model_class)(config)


def make_digits_images(
    output: Path,
    epochs: int = 3,
    low_resolution_epochs: int = 8,
    batch: int = 32,
    architecture: str = "mobilenet_v2",
) -> dict[str, Any]:
    """Train ``architecture`` (a key of :data:`IMAGE_ARCHITECTURES`) on digit pictures:
    ``low_resolution_epochs`` over :data:`RENDERINGS` renderings of each training digit at
    64 px, then ``epochs`` over one rendering at 224 px (batches of 16, a third of the
    learning rate)."""
    from sklearn.datasets import load_digits

    from modelpack.images import preprocess_images
    from modelpack.preprocess_config import from_processor_settings

    chosen = IMAGE_ARCHITECTURES[architecture]
    torch.manual_seed(SEED)
    torch.set_num_threads(os.cpu_count() or 1)
    count = len(load_digits().target)
    order = np.random.default_rng(SEED).permutation(count)
    train, gate, held_out = order[:1000], order[1000:1400], order[1400:]
    model = digits_model(architecture)
    prepare_for_training(model)
    block = from_processor_settings(chosen.processor, "pixel_values")
    pictures = list(_digit_pictures(np.tile(train, RENDERINGS), seed=SEED + 1))
    small = _at_size(block, LOW_RESOLUTION)
    _train_stage(model, chosen.name, pictures, small, low_resolution_epochs, batch=batch, lr=3e-3)
    # One rendering of each digit at the size the model serves.
    _train_stage(model, chosen.name, pictures[: len(train)], block, epochs, batch=16, lr=1e-3)
    del pictures
    model.to(memory_format=torch.contiguous_format)  # safetensors stores contiguous tensors
    with staged_directory(output) as stage:
        model.save_pretrained(stage)
        (stage / "preprocessor_config.json").write_text(json.dumps(chosen.processor, indent=2))
        correct = 0
        for folder, indices, seed in (("images", gate, SEED + 2), ("heldout", held_out, SEED + 3)):
            (stage / folder).mkdir()
            for number, (picture, label) in enumerate(_digit_pictures(indices, seed)):
                suffix = ".jpg" if number % 2 else ".png"
                picture.save(stage / folder / f"{number:04d}-{DIGIT_NAMES[label]}{suffix}")
                if folder == "heldout":
                    x = torch.from_numpy(preprocess_images([picture], block))
                    with torch.inference_mode():
                        correct += int(model(pixel_values=x).logits.argmax() == label)
        accuracy = correct / len(held_out)
        if accuracy < MIN_DIGITS_ACCURACY:
            # An untrained network's answers are near-ties that any rounding flips, so an
            # INT8 gate measured on it says nothing about quantization: refuse to write it.
            raise BenchCaseError(
                f"the {chosen.name} digits classifier reached {accuracy:.1%} held-out accuracy"
                f" after {low_resolution_epochs} epochs at {LOW_RESOLUTION} px and {epochs} at "
                f"{IMAGE_SIZE} px (chance is 10%; the benchmark needs at least "
                f"{MIN_DIGITS_ACCURACY:.0%}); nothing was written",
                f"train longer (python -m modelpack.bench_models {chosen.maker} --epochs N), "
                "or benchmark your own trained model with --model-dir",
            )
    result: dict[str, Any] = {
        "case": chosen.maker,
        "architecture": chosen.name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_digits": len(train),
        "epochs": {f"{LOW_RESOLUTION}px": low_resolution_epochs, f"{IMAGE_SIZE}px": epochs},
        "held_out_accuracy": accuracy,
    }
    event(logger, f"{chosen.name} digits classifier written", output=str(output), **result)
    return result


# A maker's recipe revision, raised when what it makes changes, so that a model cached
# by an older recipe is made again rather than measured (absent: the first recipe).
RECIPE_REVISIONS = {"sentiment": 2}  # 2: soft targets from VADER's compound score

MAKERS: dict[str, Callable[..., dict[str, Any]]] = {
    "sentiment": make_sentiment,
    "bert-base": make_bert_base,
    **{
        chosen.maker: functools.partial(make_digits_images, architecture=key)
        for key, chosen in IMAGE_ARCHITECTURES.items()
    },
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelpack.bench_models", description=__doc__)
    parser.add_argument("case", choices=sorted(MAKERS))
    parser.add_argument("--output", type=Path, required=True, help="directory to create")
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs (default: the case's own; digits-*: the 224 px epochs"
        " that follow its 64 px stage)",
    )
    args = parser.parse_args(argv)
    configure()
    if args.output.exists():
        parser.error(f"{args.output} already exists")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if args.epochs is not None and args.case == "bert-base":
        parser.error(
            "bert-base keeps random weights (only its size matters): --epochs does not apply"
        )
    options = {} if args.epochs is None else {"epochs": args.epochs}
    try:
        result = MAKERS[args.case](args.output, **options)
    except ModelpackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
