"""Classifiers through the build: detection, labels, activation, preprocessing and gates.

Tiny models built from transformers configs (BERT, DistilBERT, MPNet, ViT) and a small
CNN trained here on scikit-learn's digits rendered as PNG files.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image
from tokenizers import Tokenizer
from transformers import BertConfig, BertForTokenClassification

from ml_runtime.images import Preprocess, preprocess
from modelpack.detect import detect, read_config
from modelpack.errors import InputSpecError, ModelSourceError
from modelpack.evaluate import Thresholds, measure_accuracy
from modelpack.image_data import MIN_IMAGES, image_files
from modelpack.images import load_rgb, preprocess_files
from modelpack.pipeline import BuildOptions, build
from modelpack.preprocess_config import check_block, from_hf_directory
from modelpack.quantize import DYNAMIC_CANDIDATES, STATIC_CANDIDATES
from modelpack.sources import load_source

# Random weights: agreement says little, so these builds gate loosely; the digits CNN
# below is trained and gated at the defaults.
LOOSE = Thresholds(top1_agreement=0.8, max_winning_probability_delta=0.5, label_set_agreement=0.8)


def _build(source: Any, output: Path, thresholds: Thresholds = LOOSE) -> dict[str, Any]:
    return build(source, BuildOptions(output=output, thresholds=thresholds, latency_runs=5))


def _logits(artifact: Path, feed: dict[str, np.ndarray]) -> np.ndarray:
    session = ort.InferenceSession(str(artifact / "model.onnx"), providers=["CPUExecutionProvider"])
    result: np.ndarray = session.run(["logits"], feed)[0]
    return result


def _chose_unfused_attention(manifest: dict[str, Any]) -> bool:
    return manifest["quantization"]["chosen"].get("attention_fusion") is False


# --- text classification ----------------------------------------------------------------


def test_bert_sequence_classifier_keeps_its_head(
    tiny_bert_classifier_dir: Path, tmp_path: Path
) -> None:
    source = load_source(model_dir=tiny_bert_classifier_dir)
    assert source.task == "text-classification"
    manifest = _build(source, tmp_path / "sst")

    assert manifest["task"] == "text-classification"
    assert manifest["labels"] == ["NEGATIVE", "POSITIVE"]
    assert manifest["classification"] == {
        "output": "logits",
        "activation": "softmax",
        "multi_label": False,
        "threshold": 0.5,
    }
    assert "preprocess" not in manifest
    assert manifest["outputs"] == [{"name": "logits", "dtype": "float32", "shape": ["batch", 2]}]
    assert manifest["optimization"]["model_type"] == "bert"
    # The manifest describes the chosen candidate's graph: attention fused, or left as
    # MatMuls for the candidate that quantizes each projection blockwise.
    assert manifest["optimization"]["fused_operators"].get("Attention") == (
        None if _chose_unfused_attention(manifest) else 2
    )
    assert any(
        c["settings"].get("attention_fusion") is False
        for c in manifest["quantization"]["candidates"]
    )
    accuracy = manifest["accuracy"]
    assert accuracy["metric"] == "top1_agreement"
    assert 0.8 <= accuracy["top1_agreement"] <= 1.0
    assert 0.0 <= accuracy["max_winning_probability_delta"] <= 0.5
    assert accuracy["thresholds"] == {"top1_agreement": 0.8, "max_winning_probability_delta": 0.5}

    # The head (pooler, classifier) stays float: its rounding would land on the logits.
    nodes = onnx.load(str(tmp_path / "sst" / "model.onnx")).graph.node
    assert {n.name for n in nodes if n.op_type == "MatMul" and "classifier" in n.name}
    # The graph's logits are the PyTorch classifier's (the head was not dropped).
    feed = {k: v[:4] for k, v in source.evaluation[0].items()}
    expected = source.torch_outputs(feed)[0]
    got = _logits(tmp_path / "sst", feed)
    assert got.shape == (4, 2)
    assert np.mean(got.argmax(1) == expected.argmax(1)) >= 0.75


def test_distilbert_multi_label_classifier(
    tiny_distilbert_multilabel_dir: Path, tmp_path: Path
) -> None:
    manifest = _build(load_source(model_dir=tiny_distilbert_multilabel_dir), tmp_path / "tags")
    assert manifest["task"] == "text-classification"
    assert manifest["labels"] == ["toxic", "spam", "urgent"]
    assert manifest["classification"]["activation"] == "sigmoid"
    assert manifest["classification"]["multi_label"] is True
    # What the function answers is the set of labels above the threshold: gated too.
    assert manifest["accuracy"]["thresholds"]["label_set_agreement"] == 0.8
    assert 0.8 <= manifest["accuracy"]["label_set_agreement"] <= 1.0
    # DistilBERT takes no token type ids; the "bert" optimiser fuses its attention.
    assert [i["name"] for i in manifest["inputs"]] == ["input_ids", "attention_mask"]
    assert manifest["optimization"]["model_type"] == "bert"
    assert manifest["optimization"]["fused_operators"].get("Attention") == (
        None if _chose_unfused_attention(manifest) else 2
    )
    assert manifest["optimization"]["max_abs_diff_vs_unfused"] <= 1e-3


def test_roberta_classifier_pads_with_the_token_its_tokenizer_config_names(
    tiny_roberta_classifier_dir: Path, tmp_path: Path
) -> None:
    """transformers saves a RoBERTa tokenizer with no padding section and <pad> in
    tokenizer_config.json: the build pads with that token (id 1), not a missing [PAD]."""
    saved = json.loads((tiny_roberta_classifier_dir / "tokenizer.json").read_text())
    assert saved["padding"] is None
    assert "[PAD]" not in saved["model"]["vocab"]
    manifest = _build(load_source(model_dir=tiny_roberta_classifier_dir), tmp_path / "roberta")
    assert manifest["task"] == "text-classification"
    assert manifest["labels"] == ["NEGATIVE", "POSITIVE"]
    tokenizer = Tokenizer.from_file(str(tmp_path / "roberta" / "tokenizer.json"))
    short, long = tokenizer.encode_batch(["cold", "the cold start"])
    assert len(short.ids) == len(long.ids)
    assert short.ids[-1] == 1 and short.attention_mask[-1] == 0


def _without_tokenizer_config(model_dir: Path, directory: Path) -> Path:
    """A copy of ``model_dir`` without the files transformers names its pad token in."""
    shutil.copytree(model_dir, directory)
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        (directory / name).unlink(missing_ok=True)
    return directory


def test_tokenizer_without_any_padding_token_is_refused_with_what_to_do(
    tiny_roberta_classifier_dir: Path, tmp_path: Path
) -> None:
    directory = _without_tokenizer_config(tiny_roberta_classifier_dir, tmp_path / "no-pad")
    config = json.loads((directory / "config.json").read_text())
    config.pop("pad_token_id")
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelSourceError) as caught:
        load_source(model_dir=directory)
    assert "defines no padding token" in str(caught.value)
    assert "tokenizer_config.json" in str(caught.value)
    assert "tokenizer.pad_token" in caught.value.remedy


def test_padding_token_from_config_pad_token_id(
    tiny_roberta_classifier_dir: Path, tmp_path: Path
) -> None:
    directory = _without_tokenizer_config(tiny_roberta_classifier_dir, tmp_path / "config-pad")
    source = load_source(model_dir=directory)
    assert source.tokenizer is not None
    assert source.tokenizer.padding is not None
    assert (source.tokenizer.padding["pad_id"], source.tokenizer.padding["pad_token"]) == (
        1,
        "<pad>",
    )


def test_mpnet_encoder_is_fused_and_checked(tiny_mpnet_dir: Path, tmp_path: Path) -> None:
    manifest = _build(load_source(model_dir=tiny_mpnet_dir), tmp_path / "mpnet")
    assert manifest["task"] == "sentence-embedding"
    assert manifest["source"]["model_type"] == "mpnet"
    optimization = manifest["optimization"]
    # Either the fusion reproduced the unfused graph, or it was refused and recorded.
    if optimization["method"] == "onnxruntime.transformers.optimizer":
        assert optimization["max_abs_diff_vs_unfused"] <= 1e-3
    else:
        assert optimization["transformer_fusion_rejected"]["model_type"] == "bert"
    assert manifest["accuracy"]["passed"] is True
    assert manifest["accuracy"]["values"]["cosine_min"] >= 0.97


def test_signed_int8_candidates_use_seven_bit_weights() -> None:
    """U8S8 integer kernels saturate on x86 CPUs without VNNI unless weights fit 7 bits."""
    for candidate in (*DYNAMIC_CANDIDATES, *STATIC_CANDIDATES):
        if candidate.weight_type == "QInt8":
            assert candidate.reduce_range, candidate.name


def test_int8_matmul_with_outlier_weights_stays_accurate(tmp_path: Path) -> None:
    """Weights at +-max and large activations: the pattern that saturated MPNet on AVX2."""
    from onnx import TensorProto, helper, numpy_helper

    from modelpack.quantize import quantize

    rng = np.random.default_rng(0)
    weight = rng.choice([-1.0, 1.0], size=(256, 64)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        "outliers",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 64])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(tmp_path / "fp32.onnx"))
    x = rng.uniform(0.8, 1.0, size=(8, 256)).astype(np.float32)
    x[:, 0] = -1.0  # the activation range starts below zero: zero point near 0..255's bottom
    expected = x @ weight
    for candidate in DYNAMIC_CANDIDATES[:3]:
        quantize(candidate, tmp_path / "fp32.onnx", tmp_path / "q.onnx", [])
        got = ort.InferenceSession(str(tmp_path / "q.onnx")).run(None, {"x": x})[0]
        error = np.abs(got - expected).max() / np.abs(expected).max()
        assert error < 0.05, f"{candidate.name}: relative error {error:.3f}"


def test_static_candidates_on_a_conv_with_outlier_weights(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A 1x1 convolution with weights at +-max and large activations (the U8S8 saturation
    pattern) stays accurate under every static candidate; the unsigned-weight one keeps
    8 bits per channel (more than 128 weight levels used), the signed ones 7. The
    calibrator's own prints stay off stdout, which carries the build's JSON summary."""
    from onnx import TensorProto, helper, numpy_helper

    from modelpack.quantize import quantize

    rng = np.random.default_rng(0)
    weight = rng.choice([-1.0, 1.0], size=(16, 128, 1, 1)).astype(np.float32)
    weight[:, :, 0, 0] *= rng.uniform(0.0, 1.0, size=(1, 128)).astype(np.float32)
    weight[:, 0, 0, 0] = 1.0  # every output channel reaches its maximum
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
        "conv-outliers",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 128, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 16, 4, 4])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(tmp_path / "fp32.onnx"))
    x = rng.uniform(0.8, 1.0, size=(8, 128, 4, 4)).astype(np.float32)
    x[:, 0] = -1.0
    expected = ort.InferenceSession(str(tmp_path / "fp32.onnx")).run(None, {"x": x})[0]
    for candidate in STATIC_CANDIDATES:
        quantize(candidate, tmp_path / "fp32.onnx", tmp_path / "q.onnx", [{"x": x}])
        got = ort.InferenceSession(str(tmp_path / "q.onnx")).run(None, {"x": x})[0]
        error = np.abs(got - expected).max() / np.abs(expected).max()
        assert error < 0.05, f"{candidate.name}: relative error {error:.3f}"
        weights = {
            i.name: numpy_helper.to_array(i)
            for i in onnx.load(str(tmp_path / "q.onnx")).graph.initializer
        }
        quantized = next(v for v in weights.values() if v.shape == weight.shape)
        levels = int(quantized.max()) - int(quantized.min()) + 1
        if candidate.weight_type == "QUInt8":
            assert quantized.dtype == np.uint8 and levels > 128, candidate.name
        else:
            assert quantized.dtype == np.int8 and levels <= 128, candidate.name
    assert capfd.readouterr().out == ""


def test_module_text_classifier_from_an_input_spec(tiny_bert_dir: Path, tmp_path: Path) -> None:
    """Any torch module taking token ids, with a tokenizer and a labels file in its spec."""
    (tmp_path / "labels.txt").write_text("sports\nweather\nfinance\n")
    shutil.copyfile(tiny_bert_dir / "tokenizer.json", tmp_path / "tokenizer.json")
    spec = tmp_path / "topics.json"
    spec.write_text(
        json.dumps(
            {
                "name": "topics",
                "task": "text-classification",
                "inputs": [
                    {"name": "input_ids", "dtype": "int64", "shape": ["batch", "sequence"]},
                    {"name": "attention_mask", "dtype": "int64", "shape": ["batch", "sequence"]},
                ],
                "outputs": [{"name": "logits"}],
                "labels": "labels.txt",
                "tokenizer": "tokenizer.json",
                "max_length": 64,
            }
        )
    )
    sys.path.insert(0, str(Path(__file__).parent))
    manifest = _build(load_source(module="text_models:make", input_spec=spec), tmp_path / "topics")
    assert manifest["task"] == "text-classification"
    assert manifest["labels"] == ["sports", "weather", "finance"]
    assert manifest["classification"]["activation"] == "softmax"
    assert manifest["tokenizer"] == {"file": "tokenizer.json", "max_length": 64}
    assert manifest["outputs"][0]["shape"] == ["batch", 3]


# --- image classification ---------------------------------------------------------------


def test_vit_image_classifier(tiny_vit_dir: Path, pattern_images: Path, tmp_path: Path) -> None:
    source = load_source(model_dir=tiny_vit_dir, images=pattern_images)
    manifest = _build(source, tmp_path / "vit")
    assert manifest["task"] == "image-classification"
    assert manifest["tokenizer"] is None
    assert manifest["labels"] == ["stripes", "checks", "blob"]
    assert manifest["preprocess"] == {
        "input_name": "pixel_values",
        "resize_shorter_side": None,
        "resize": None,
        "crop": [32, 32],
        "resample": "bilinear",
        "rescale_factor": 1 / 255,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "channel_order": "RGB",
        "layout": "NCHW",
    }
    assert manifest["inputs"] == [
        {"name": "pixel_values", "dtype": "float32", "shape": ["batch", 3, 32, 32]}
    ]
    assert manifest["optimization"]["model_type"] == "vit"
    # A vision transformer gets both kinds of candidate; the measurement decides.
    methods = {c["settings"]["method"] for c in manifest["quantization"]["candidates"]}
    assert methods == {"dynamic", "static-qdq"}
    assert manifest["source"]["images"] == {"calibration": 12, "evaluation": 36}
    # Images batch freely (one shape), so all three micro-batch sizes are measured, and a
    # classifier is judged by its probabilities.
    batching = manifest["batching"]
    assert batching["metric"] == "max_abs_probability_difference"
    assert batching["batch_sizes"] == [4, 16, 32]
    bound = batching["thresholds"]["max_abs_probability_difference"]
    assert batching["invariant"] == (batching["max_abs_difference"] <= bound)


def _processor_pixels(model_dir: Path, paths: list[Path]) -> np.ndarray:
    """What transformers' own image processor (PIL backend) feeds the model."""
    from transformers import AutoImageProcessor

    processor = AutoImageProcessor.from_pretrained(model_dir, backend="pil")  # type: ignore[no-untyped-call]
    pixels: np.ndarray = processor(images=[load_rgb(p) for p in paths], return_tensors="np")[
        "pixel_values"
    ]
    return pixels


def test_deit_integer_size_is_a_square_resize_then_the_crop(
    tiny_deit_dir: Path, pattern_images: Path, tmp_path: Path
) -> None:
    """DeiT's shipped ``"size": 256, "crop_size": 224`` means 256 x 256 then a 224 crop
    (transformers' get_size_dict squares an int for DeiT); the artefact must say so, and
    the function's preprocessing must give transformers' pixels."""
    source = load_source(model_dir=tiny_deit_dir, images=pattern_images)
    manifest = _build(source, tmp_path / "deit")
    block = manifest["preprocess"]
    assert (block["resize_shorter_side"], block["resize"], block["crop"]) == (
        None,
        {"height": 40, "width": 40},
        [32, 32],
    )
    assert block["resample"] == "bicubic"
    assert manifest["inputs"][0]["shape"] == ["batch", 3, 32, 32]
    # The function's own reading of the manifest, on images of varied aspect ratios.
    written = json.loads((tmp_path / "deit" / "manifest.json").read_text())
    spec = Preprocess.from_manifest(written["preprocess"])
    paths = image_files(pattern_images)[:8]
    ours = np.stack([preprocess(load_rgb(p), spec) for p in paths])
    np.testing.assert_allclose(ours, _processor_pixels(tiny_deit_dir, paths), atol=1e-5)


# A non-square photo-like size, so a square resize and a shortest-edge one differ.
_WIDE = (410, 300)
_IMAGENET = {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param(  # facebook/deit-*'s shipped config
            {
                "feature_extractor_type": "DeiTFeatureExtractor",
                "size": 256,
                "crop_size": 224,
                "do_center_crop": True,
                "resample": 3,
                **_IMAGENET,
            },
            (None, {"height": 256, "width": 256}, [224, 224]),
            id="deit-int-size-and-crop",
        ),
        pytest.param(  # the same processor saved by transformers 5
            {
                "image_processor_type": "DeiTImageProcessor",
                "size": {"height": 256, "width": 256},
                "crop_size": {"height": 224, "width": 224},
                "do_center_crop": True,
                "resample": 3,
                **_IMAGENET,
            },
            (None, {"height": 256, "width": 256}, [224, 224]),
            id="deit-height-width-and-crop",
        ),
        pytest.param(  # an old ViT config: a 224 x 224 resize, no crop
            {"feature_extractor_type": "ViTFeatureExtractor", "size": 224, "resample": 2},
            (None, None, [224, 224]),
            id="vit-int-size-no-crop",
        ),
        pytest.param(  # ConvNeXt/ResNet: an int is the shortest edge, resized by crop_pct
            {
                "image_processor_type": "ConvNextImageProcessor",
                "size": 224,
                "crop_pct": 0.875,
                "resample": 3,
                **_IMAGENET,
            },
            (256, None, [224, 224]),
            id="convnext-crop-pct",
        ),
        pytest.param(  # MobileNetV2: an int is the shortest edge too
            {
                "image_processor_type": "MobileNetV2ImageProcessor",
                "size": 256,
                "crop_size": 224,
                "do_center_crop": True,
                "resample": 2,
            },
            (256, None, [224, 224]),
            id="mobilenet-v2-shortest-edge-and-crop",
        ),
    ],
)
def test_preprocess_block_gives_the_transformers_processors_pixels(
    settings: dict[str, Any], expected: tuple[Any, Any, list[int]], tmp_path: Path
) -> None:
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(settings))
    rng = np.random.default_rng(7)
    for name, size in (("wide.png", _WIDE), ("tall.png", _WIDE[::-1])):
        noise = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(noise).save(tmp_path / name)
    block = from_hf_directory(tmp_path)
    assert (block["resize_shorter_side"], block["resize"], block["crop"]) == expected
    paths = [tmp_path / "wide.png", tmp_path / "tall.png"]
    np.testing.assert_allclose(
        preprocess_files(paths, block), _processor_pixels(tmp_path, paths), atol=1e-5
    )


def test_a_processor_whose_resizing_the_block_cannot_say_is_refused(tmp_path: Path) -> None:
    # LeViT resizes the shortest edge to int(256 / 224 * size): not a plain resize.
    (tmp_path / "preprocessor_config.json").write_text(
        json.dumps({"image_processor_type": "LevitImageProcessor", "size": 224})
    )
    with pytest.raises(
        ModelSourceError, match="is a LevitImageProcessor, whose resizing"
    ) as caught:
        from_hf_directory(tmp_path)
    assert "ViTImageProcessor" in caught.value.remedy and "--module" in caught.value.remedy


def test_input_spec_block_with_a_fixed_size_resize(tmp_path: Path) -> None:
    block = {
        "input_name": "pixel_values",
        "resize_shorter_side": None,
        "resize": {"height": 40, "width": 40},
        "crop": [32, 32],
        "resample": "bilinear",
        "rescale_factor": 1 / 255,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "channel_order": "RGB",
        "layout": "NCHW",
    }
    assert check_block(block, "spec")["resize"] == {"height": 40, "width": 40}
    older = {k: v for k, v in block.items() if k != "resize"}
    assert check_block(older, "spec")["resize"] is None
    with pytest.raises(InputSpecError, match="one resize or the other"):
        check_block({**block, "resize_shorter_side": 40}, "spec")
    with pytest.raises(InputSpecError, match=r"at least as large as the crop \[32, 32\]"):
        check_block({**block, "resize": {"height": 40, "width": 30}}, "spec")


def test_image_classifier_without_images_explains_what_it_needs(tiny_vit_dir: Path) -> None:
    with pytest.raises(InputSpecError, match="need evaluation images") as caught:
        load_source(model_dir=tiny_vit_dir)
    assert f"at least {MIN_IMAGES} JPEG, PNG or WebP images" in str(caught.value)


def test_too_few_images(
    tiny_vit_dir: Path, tmp_path: Path, make_pattern_images: Callable[[Path, int, int], Path]
) -> None:
    few = make_pattern_images(tmp_path / "few", 5, 1)
    with pytest.raises(InputSpecError, match="holds 5 JPEG/PNG/WebP images; the gate"):
        load_source(model_dir=tiny_vit_dir, images=few)


def test_images_of_other_formats_are_counted_as_skipped(tiny_vit_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "gifs"
    folder.mkdir()
    for index in range(3):
        Image.new("RGB", (8, 8)).save(folder / f"picture-{index}.gif")
    Image.new("RGB", (8, 8)).save(folder / "only.png")
    with pytest.raises(InputSpecError) as caught:
        load_source(model_dir=tiny_vit_dir, images=folder)
    assert caught.value.problem == (
        f"--images {folder} holds 1 JPEG/PNG/WebP image (3 other files skipped, e.g."
        " picture-0.gif: only .jpeg, .jpg, .png, .webp files are read); the gate needs at"
        f" least {MIN_IMAGES}"
    )


def test_webp_images_are_read_as_the_function_reads_them(
    tiny_vit_dir: Path, pattern_images: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "webp"
    folder.mkdir()
    for path in image_files(pattern_images):
        load_rgb(path).save(folder / f"{path.stem}.webp", lossless=True)
    source = load_source(model_dir=tiny_vit_dir, images=folder)
    assert source.source["images"] == {"calibration": 12, "evaluation": 36}


def test_unreadable_image_is_named_by_its_path_under_the_folder(
    tiny_vit_dir: Path, pattern_images: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "gate-bad"
    shutil.copytree(pattern_images, folder)
    (folder / "more").mkdir()
    (folder / "more" / "zz-text.jpg").write_text("not an image")
    with pytest.raises(InputSpecError) as caught:
        load_source(model_dir=tiny_vit_dir, images=folder)
    assert caught.value.problem == (
        f"1 file under {folder} is not readable as an image (e.g. more/zz-text.jpg)"
    )


def test_gate_data_for_the_other_kind_of_model_is_refused(
    tiny_bert_classifier_dir: Path, tiny_vit_dir: Path, pattern_images: Path, tmp_path: Path
) -> None:
    """--images on a text model, or --eval-texts on an image model, would be ignored."""
    with pytest.raises(InputSpecError, match=r"--images .* applies to image classifiers") as text:
        load_source(model_dir=tiny_bert_classifier_dir, images=pattern_images)
    assert "--eval-texts" in text.value.remedy
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(f"sentence number {i}" for i in range(64)))
    with pytest.raises(InputSpecError, match=r"--eval-texts .* applies to text models") as image:
        load_source(model_dir=tiny_vit_dir, images=pattern_images, eval_texts=texts)
    assert "--images" in image.value.remedy


def test_max_length_beyond_the_model_is_cut_to_its_positions_and_said(
    tiny_bert_classifier_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="modelpack"):
        source = load_source(model_dir=tiny_bert_classifier_dir, max_length=1000)
    assert source.max_length == 64  # the tiny model's max_position_embeddings
    assert "--max-length 1000 is more than the model's 64 positions" in caplog.text


def test_image_model_without_preprocessor_config(tiny_vit_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "vit"
    shutil.copytree(tiny_vit_dir, broken)
    (broken / "preprocessor_config.json").unlink()
    with pytest.raises(ModelSourceError, match=r"lacks preprocessor_config\.json"):
        load_source(model_dir=broken, images=tmp_path)


def test_preprocessing_resizes_shorter_side_then_centre_crops(tmp_path: Path) -> None:
    # A 40x20 (width x height) image whose left half is black and right half white.
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, 20:] = 255
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    block = {
        "input_name": "pixel_values",
        "resize_shorter_side": 10,
        "crop": [10, 10],
        "resample": "nearest",
        "rescale_factor": 1 / 255,
        "mean": [0.0, 0.0, 0.0],
        "std": [1.0, 1.0, 1.0],
        "channel_order": "BGR",
        "layout": "NHWC",
    }
    out = preprocess_files([tmp_path / "wide.png"], block)
    # Resized to 20x10, centre crop keeps columns 5..14: half black, half white.
    assert out.shape == (1, 10, 10, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0, :, :5], 0.0)
    np.testing.assert_array_equal(out[0, :, 5:], 1.0)


# --- the digits CNN as an image classifier, trained here ------------------------------


@pytest.fixture(scope="module")
def digits_png_spec(
    tmp_path_factory: pytest.TempPathFactory, digits_cnn_weights: Path
) -> tuple[Path, Path, np.ndarray]:
    """The trained digits CNN (conftest) as an image classifier: its held-out digits as
    PNG files, a labels file and an image-classification input spec."""
    from sklearn.datasets import load_digits

    directory = tmp_path_factory.mktemp("digits-png")
    digits = load_digits()
    held_out = np.random.default_rng(0).permutation(len(digits.images))[1400:]
    images = directory / "images"
    images.mkdir()
    for index in held_out:
        gray = np.round(digits.images[index] * 255 / 16).astype(np.uint8)
        Image.fromarray(gray, mode="L").save(images / f"digit-{index:04d}.png")
    (directory / "labels.txt").write_text("\n".join(str(d) for d in range(10)) + "\n")
    spec = directory / "digits.json"
    spec.write_text(
        json.dumps(
            {
                "name": "digits-cnn",
                "task": "image-classification",
                "inputs": [{"name": "pixels", "dtype": "float32", "shape": ["batch", 3, 8, 8]}],
                "outputs": [{"name": "logits"}],
                "labels": "labels.txt",
                "preprocess": {
                    "input_name": "pixels",
                    "resize_shorter_side": None,
                    "crop": [8, 8],
                    "resample": "bilinear",
                    "rescale_factor": 1 / 255,
                    "mean": [0.0, 0.0, 0.0],
                    "std": [1.0, 1.0, 1.0],
                    "channel_order": "RGB",
                    "layout": "NCHW",
                },
            }
        )
    )
    os.environ["DIGITS_CNN_WEIGHTS"] = str(digits_cnn_weights)
    # Labels in the order of the sorted file names (digit-<index>.png).
    return spec, images, digits.target[np.sort(held_out)]


def test_digits_cnn_from_png_images_with_real_accuracy(
    digits_png_spec: tuple[Path, Path, np.ndarray], tmp_path: Path
) -> None:
    spec, images, labels = digits_png_spec
    source = load_source(module="digits_cnn:make_rgb_model", input_spec=spec, images=images)
    manifest = _build(source, tmp_path / "digits", Thresholds())  # the default gate

    assert manifest["task"] == "image-classification"
    assert manifest["labels"] == [str(d) for d in range(10)]
    assert manifest["preprocess"]["input_name"] == "pixels"
    assert manifest["quantization"]["chosen"]["method"] == "static-qdq"
    # A small CNN's calibration fits in memory whole, and the manifest says how much ran.
    calibration = manifest["quantization"]["calibration"]
    assert calibration["samples"] == calibration["samples_given"] > 0
    assert calibration["capped_by_memory"] is False
    assert calibration["activation_bytes_per_sample"] > 0
    assert manifest["accuracy"]["top1_agreement"] >= 0.99
    assert manifest["accuracy"]["max_winning_probability_delta"] <= 0.05
    ops = {n.op_type for n in onnx.load(str(tmp_path / "digits" / "model.onnx")).graph.node}
    assert "QuantizeLinear" in ops

    # Real accuracy of the INT8 artefact on the held-out PNG files, preprocessed by the
    # manifest's own numbers.
    paths = sorted(images.iterdir())
    pixels = preprocess_files(paths, manifest["preprocess"])
    predicted = _logits(tmp_path / "digits", {"pixels": pixels}).argmax(axis=1)
    accuracy = float(np.mean(predicted == labels))
    assert accuracy >= 0.9, f"INT8 digits accuracy on held-out PNG files: {accuracy:.3f}"


def test_image_spec_whose_input_does_not_match_the_preprocessing(
    digits_png_spec: tuple[Path, Path, np.ndarray], tmp_path: Path
) -> None:
    spec, images, _ = digits_png_spec
    raw = json.loads(spec.read_text())
    raw["inputs"][0]["shape"] = ["batch", 1, 8, 8]
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**raw, "labels": str(spec.parent / "labels.txt")}))
    with pytest.raises(InputSpecError, match="preprocess block makes float32"):
        load_source(module="digits_cnn:make_rgb_model", input_spec=wrong, images=images)


def test_labelled_spec_without_labels(
    digits_png_spec: tuple[Path, Path, np.ndarray], tmp_path: Path
) -> None:
    spec, _images, _ = digits_png_spec
    raw = json.loads(spec.read_text())
    del raw["labels"]
    (tmp_path / "nolabels.json").write_text(json.dumps(raw))
    with pytest.raises(InputSpecError, match="needs a labels file"):
        load_source(module="digits_cnn:make_rgb_model", input_spec=tmp_path / "nolabels.json")


# --- detection ------------------------------------------------------------------------


def test_token_classifier_is_refused_naming_what_was_found(tmp_path: Path) -> None:
    config = BertConfig(
        vocab_size=32,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=64,
    )
    config.num_labels = 5
    BertForTokenClassification(config).save_pretrained(tmp_path / "ner")
    with pytest.raises(ModelSourceError) as caught:
        load_source(model_dir=tmp_path / "ner")
    message = str(caught.value)
    assert "BertForTokenClassification" in message
    assert "ForSequenceClassification" in message and "ForImageClassification" in message
    assert "--task sentence-embedding" in message


def test_config_without_architectures(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    with pytest.raises(ModelSourceError, match="cannot tell what the model") as caught:
        detect(tmp_path, read_config(tmp_path))
    assert "--task" in str(caught.value)
    # ... and --task says it.
    assert detect(tmp_path, read_config(tmp_path), "sentence-embedding").task == (
        "sentence-embedding"
    )


def test_unsupported_family(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "gpt2", "architectures": ["GPT2ForSequenceClassification"]})
    )
    with pytest.raises(ModelSourceError, match="text model family 'gpt2'") as caught:
        detect(tmp_path, read_config(tmp_path))
    # No --task makes a GPT-2 buildable; the way that can is a module with an input spec.
    assert "--task" not in caught.value.remedy
    assert "--module" in caught.value.remedy


def test_sentence_transformers_directory_with_a_pretraining_head(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "mpnet", "architectures": ["MPNetForMaskedLM"]})
    )
    (tmp_path / "modules.json").write_text("[]")
    detected = detect(tmp_path, read_config(tmp_path))
    assert (detected.task, detected.optimizer_model_type) == ("sentence-embedding", "bert")


def test_task_override_refuses_a_missing_head(tiny_bert_dir: Path) -> None:
    # A bare encoder asked to be a classifier has no trained head: refused, not invented,
    # and said to be a missing head rather than a bad save.
    with pytest.raises(ModelSourceError) as caught:
        load_source(model_dir=tiny_bert_dir, task="text-classification")
    problem, remedy = caught.value.problem, caught.value.remedy
    assert problem.startswith(
        f"--task text-classification: {tiny_bert_dir} holds an encoder with no"
        " classification head (model_type 'bert', architectures ['BertModel']"
    )
    assert "fine-tuned *ForSequenceClassification save" in remedy
    assert "same save_pretrained() call" not in str(caught.value)


def test_t5_is_refused_without_suggesting_a_task_that_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "t5", "architectures": ["T5ForConditionalGeneration"]})
    )
    with pytest.raises(ModelSourceError, match="model family 't5'") as caught:
        detect(tmp_path, read_config(tmp_path))
    assert "--task" not in caught.value.remedy and "--module" in caught.value.remedy
    # Without architectures neither: no --task makes a T5 buildable.
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "t5"}))
    with pytest.raises(ModelSourceError, match="model family 't5'") as bare:
        detect(tmp_path, read_config(tmp_path))
    assert "--task" not in bare.value.remedy


def test_multi_label_gate_counts_inputs_whose_label_set_changed() -> None:
    """Same winner, but a second label crosses the 0.5 threshold in one row of four: the
    answer the function gives changed there, which the label-set agreement counts."""
    reference = [np.array([[3.0, -2.0], [3.0, 0.1], [-3.0, 2.0], [0.0, -4.0]])]
    candidate = [np.array([[3.0, -2.0], [3.0, -0.1], [-3.0, 2.0], [0.05, -4.0]])]
    result = measure_accuracy(
        "text-classification",
        reference,
        candidate,
        Thresholds(),
        activation="sigmoid",
        label_threshold=0.5,
    )
    assert result.values["top1_agreement"] == 1.0
    assert result.values["label_set_agreement"] == 0.75  # row 2 lost its second label
    assert "label_set_agreement 0.750000 < required 0.9900" in result.shortfalls
    single = measure_accuracy("text-classification", reference, candidate, Thresholds())
    assert "label_set_agreement" not in single.values  # single-label: the top-1 is the answer


def test_winning_probability_delta_is_an_upper_bound() -> None:
    reference = [np.array([[4.0, 0.0], [0.0, 4.0]])]
    candidate = [np.array([[1.0, 0.0], [0.0, 4.0]])]
    result = measure_accuracy("text-classification", reference, candidate, Thresholds())
    assert result.values["top1_agreement"] == 1.0
    assert result.values["max_winning_probability_delta"] == pytest.approx(0.982 - 0.731, abs=1e-3)
    assert result.shortfalls == [
        f"max_winning_probability_delta {result.values['max_winning_probability_delta']:.6f}"
        " > allowed 0.0500"
    ]
