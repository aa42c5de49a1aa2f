"""The pipeline benchmark's parts: mixed-length batches, answers, targets, case artefacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_lambda.bench_payloads import first_answers
from modelpack.bench import mixed_batch
from modelpack.bench_cases import CASES, TOP1_ONLY, build_case_artifact
from modelpack.bench_classifiers import targets_met
from modelpack.evaluate import Thresholds
from modelpack.sources import load_source


def test_mixed_batch_spans_shortest_to_longest() -> None:
    texts = [f"{'word ' * n}".strip() for n in range(1, 21)]
    batch = mixed_batch(texts, size=4)
    assert len(batch) == 4
    assert batch[0] == "word" and batch[-1] == texts[-1]
    assert [len(t) for t in batch] == sorted(len(t) for t in batch)


def test_cold_start_first_answers_side_by_side() -> None:
    embeddings = first_answers({"embeddings": [[1.0, 0.0]]}, {"embeddings": [[1.0, 0.0]]})
    assert embeddings == {"cosine_naive_vs_optimized": 1.0}
    naive = {"predictions": [[{"label": "POSITIVE", "score": 0.9}]]}
    ours = {"model": "m", "predictions": [[{"label": "POSITIVE", "score": 0.89}]], "count": 1}
    assert first_answers(naive, ours)["same_top_label"] is True
    tensors = first_answers(naive, {"model": "m", "outputs": {"logits": [[0.1, 2.0]]}})
    assert tensors["optimized_first_answer_keys"] == ["model", "outputs"]


def test_classifier_targets_say_met_or_not() -> None:
    result = {
        "latency_speedup_p50": 3.0,
        "size_ratio": 0.26,
        "accuracy_gate_passed": True,
        "top1_agreement_naive_vs_ours": 0.995,
        "trained_weights": True,
    }
    targets = targets_met("image", result)
    assert targets["latency_speedup_met"] is True
    assert targets["size_ratio_met"] is True
    assert targets["top1_agreement_met"] is True
    assert targets_met("sentiment", result)["latency_speedup_met"] is False
    # Figures of an artefact the default gate refused are reported, never counted as met.
    refused = {**result, "latency_speedup_p50": 5.0, "gate_refused_at_default_thresholds": "x"}
    assert targets_met("sentiment", refused) == {
        "latency_speedup_p50_min": 4.0,
        "size_ratio_max": 0.27,
        "latency_speedup_met": False,
        "size_ratio_met": False,
        "gate_passed": False,
    }


def test_a_refused_case_is_measured_gated_on_top1_only(
    tiny_bert_classifier_dir: Path, tmp_path: Path
) -> None:
    """A trained case whose gate refuses still gets figures, and says how it was gated."""
    output = tmp_path / "artifact"
    strict = Thresholds(max_winning_probability_delta=0.0)  # no 8-bit rounding meets it
    manifest, refused = build_case_artifact(
        CASES["sentiment"], load_source(model_dir=tiny_bert_classifier_dir), output, strict
    )
    assert refused is not None
    assert "max_winning_probability_delta" in refused and "> allowed 0.0000" in refused
    written = json.loads((output / "manifest.json").read_text())
    assert written["accuracy"] == manifest["accuracy"]
    assert written["accuracy"]["thresholds"] == {
        "top1_agreement": TOP1_ONLY.top1_agreement,
        "max_winning_probability_delta": 1.0,
    }


def test_digits_maker_training_loop_learns_on_a_tiny_cnn() -> None:
    """The maker's training (re-initialisation, channels-last, one-cycle AdamW over a
    preprocessed tensor) on a tiny CNN and scikit-learn's 8x8 digits: real accuracy on
    digits it never saw, and BatchNorm statistics averaged rather than the last batch's."""
    import torch
    from sklearn.datasets import load_digits
    from torch import nn

    from modelpack.bench_models import prepare_for_training, train_classifier

    digits = load_digits()
    pixels = torch.tensor(digits.images[:, None] / 16.0, dtype=torch.float32)
    labels = torch.tensor(digits.target)
    torch.manual_seed(0)
    conv, norm = nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)
    model = prepare_for_training(
        nn.Sequential(conv, norm, nn.ReLU(), nn.Flatten(), nn.Linear(16 * 8 * 8, 10))
    )
    assert norm.momentum == 0.1
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    train_classifier(model, pixels[:1000], labels[:1000], epochs=4, lr=3e-3)
    assert not model.training
    with torch.inference_mode():
        predicted = model(pixels[1400:]).argmax(1)
    assert float((predicted == labels[1400:]).float().mean()) >= 0.9


def test_digit_pictures_have_dark_ink_on_light_paper_and_follow_their_seed() -> None:
    """The maker's pictures: the ink is always darker than the paper under it (what let
    MobileNetV2 learn them), each picture carries its digit's label, and a seed gives the
    same pictures again (the gate and held-out folders are reproducible)."""
    import numpy as np
    from sklearn.datasets import load_digits

    from modelpack.bench_models import _digit_pictures

    indices = np.arange(6)
    first = list(_digit_pictures(indices, seed=5))
    again = list(_digit_pictures(indices, seed=5))
    targets = load_digits().target
    for (picture, label), (same, _), index in zip(first, again, indices, strict=True):
        assert label == targets[index]
        assert np.array_equal(np.asarray(picture), np.asarray(same))
        gray = np.asarray(picture.convert("L"), dtype=np.float32)
        assert min(picture.size) >= 240
        assert max(picture.size) < 360
        assert np.percentile(gray, 1) < 110 < np.median(gray)


def test_a_case_model_that_cannot_be_made_is_a_clear_error_in_every_benchmark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The digits maker refuses an undertrained model; the benchmarks say so and why,
    exit non-zero and write no report (they used to end in a traceback)."""
    from local_lambda import bench_cold_start, bench_decode
    from modelpack import bench, bench_cases, bench_models
    from modelpack.errors import BenchCaseError

    def undertrained(output: Path) -> dict[str, object]:
        raise BenchCaseError("the classifier reached 12.0% held-out accuracy", "train longer")

    monkeypatch.setattr(bench_cases, "CACHE", tmp_path / "cache")
    monkeypatch.setitem(bench_models.MAKERS, "digits-images", undertrained)
    report = tmp_path / "report.json"
    assert bench.main(["--case", "image", "--report", str(report)]) == 2
    assert "12.0% held-out accuracy" in capsys.readouterr().err
    assert (
        bench_cold_start.main(
            ["--case", "image", "--report", str(report), "--artifact", str(tmp_path / "a")]
        )
        == 1
    )
    printed = capsys.readouterr()
    assert "train longer" in printed.out + printed.err
    # The decode benchmark makes the case it is given, through the same path.
    monkeypatch.setitem(bench_models.MAKERS, "digits-resnet18", undertrained)
    assert bench_decode.main(["--case", "image-resnet18", "--report", str(report)]) == 1
    assert "12.0% held-out accuracy" in capsys.readouterr().err
    assert not report.exists()


@pytest.mark.parametrize(
    ("architecture", "millions", "model_type"),
    [("mobilenet_v2", 2.2, "mobilenet_v2"), ("resnet18", 11.2, "resnet")],
)
def test_digits_architectures_are_the_sizes_the_image_case_names(
    architecture: str, millions: float, model_type: str
) -> None:
    """The image cases train "a classifier the size of MobileNetV2 or ResNet-18", each with
    the processor settings its published checkpoints ship with: shorter side to 256, then a
    224 px centre crop (MobileNetV2's crop_size, ResNet's ConvNeXt-style crop_pct), and
    the same at 64 px for the low-resolution stage."""
    from modelpack.bench_models import IMAGE_ARCHITECTURES, _at_size, digits_model
    from modelpack.preprocess_config import from_processor_settings

    model = digits_model(architecture)
    assert model.config.model_type == model_type
    assert model.config.num_labels == 10
    parameters = sum(p.numel() for p in model.parameters())
    assert abs(parameters / 1e6 - millions) < 0.05
    block = from_processor_settings(IMAGE_ARCHITECTURES[architecture].processor, "pixel_values")
    assert (block["resize_shorter_side"], block["crop"]) == (256, [224, 224])
    small = _at_size(block, 64)
    assert (small["resize_shorter_side"], small["crop"]) == (73, [64, 64])
    assert small["mean"] == block["mean"]


def test_every_case_has_a_maker_targets_and_the_benchmarks_offer_it() -> None:
    """The case names are written out where importing torch would be too slow (the
    benchmarks' --help): they must stay the cases bench_cases defines."""
    from local_lambda.bench_cold_start import CASE_COLD_START_SPEEDUP_MIN
    from local_lambda.bench_decode import IMAGE_CASES
    from modelpack.bench import CLASSIFIER_CASES
    from modelpack.bench_classifiers import TARGETS
    from modelpack.bench_models import MAKERS

    assert set(CLASSIFIER_CASES) == set(CASES) == set(TARGETS) == set(CASE_COLD_START_SPEEDUP_MIN)
    assert {case.maker for case in CASES.values()} <= set(MAKERS)
    assert TARGETS["image-resnet18"] == TARGETS["image"]
    assert set(IMAGE_CASES) == {n for n, c in CASES.items() if c.task == "image-classification"}


def test_sentiment_case_learns_vader_compound_as_a_probability() -> None:
    """The sentiment head's soft targets: P(POSITIVE) = (1 + compound) / 2, each row a
    distribution, and its argmax VADER's own label, so a mixed sentence is taught to be
    unsure instead of pushed to 0 or 1 (what made the hard-label model too steep to gate)."""
    from modelpack.bench_models import _sentiment_texts, sentiment_targets

    texts, scores = _sentiment_texts(40)
    assert len(texts) == len(scores) == 40
    assert all(0.05 <= abs(score) <= 1.0 for score in scores)
    targets = sentiment_targets(scores).numpy()
    assert targets.shape == (40, 2)
    assert abs(targets.sum(axis=1) - 1.0).max() < 1e-6
    assert abs(targets[:, 1] - [(1 + s) / 2 for s in scores]).max() < 1e-6
    assert list(targets.argmax(axis=1)) == [int(s > 0) for s in scores]


def test_case_caches_follow_the_recipe_and_the_model_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model made by an older recipe is made again, and an artefact is reused only for
    the model directory (and files) it was built from, never for a retrained or other one."""
    from modelpack import bench_cases, bench_models

    made: list[Path] = []

    def maker(output: Path) -> dict[str, object]:
        output.mkdir(parents=True)
        (output / "config.json").write_text("{}")
        made.append(output)
        return {}

    monkeypatch.setattr(bench_cases, "CACHE", tmp_path / "cache")
    monkeypatch.setitem(bench_models.MAKERS, "sentiment", maker)
    monkeypatch.setitem(bench_models.RECIPE_REVISIONS, "sentiment", 7)
    directory = bench_cases.model_dir(CASES["sentiment"])
    assert directory == tmp_path / "cache" / "sentiment-r7" / "sentiment"
    assert bench_cases.model_dir(CASES["sentiment"]) == directory and made == [directory]

    first = bench_cases.model_fingerprint(directory)
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text("{}")
    assert bench_cases.model_fingerprint(other) != first
    (directory / "model.safetensors").write_bytes(b"retrained")
    assert bench_cases.model_fingerprint(directory) != first


def test_build_code_fingerprint_changes_with_the_code(tmp_path: Path) -> None:
    """A case's artefact is keyed by the build code too: an edited module builds anew."""
    from modelpack import bench_cases

    package = tmp_path / "modelpack"
    package.mkdir()
    (package / "quantize.py").write_text("CANDIDATES = 7\n")
    first = bench_cases.build_fingerprint([package])
    assert bench_cases.build_fingerprint([package]) == first
    (package / "quantize.py").write_text("CANDIDATES = 8\n")
    assert bench_cases.build_fingerprint([package]) != first
    assert len(bench_cases.build_fingerprint()) == 8  # the real packages hash too
