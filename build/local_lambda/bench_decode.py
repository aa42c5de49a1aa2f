"""JPEG decoding for image models: the full decode against ``FAST_JPEG_DECODE``.

    python -m local_lambda.bench_decode --report reports/bench-decode.json
    make bench-decode CASE=image-resnet18   # reports/bench-decode-image-resnet18.json

A phone photo is far larger than a classifier's input: a 12 MP JPEG decoded in full takes
several times longer than the model runs on it. With ``FAST_JPEG_DECODE=true`` the
function decodes it at 1/2, 1/4 or 1/8 scale instead (libjpeg's DCT scaling, when that
still leaves twice the resize target), with slightly different pixels. This
benchmark measures both on photo-sized JPEGs made from an image case's held-out
pictures (scaled up to ``--width`` x ``--height`` with camera-like noise, quality 90):

- time: ``ml_runtime.images.load`` (decode, EXIF orientation, RGB, resize, crop,
  normalise) per photo, the two ways taking turns photo by photo so machine noise hits
  both alike; one thread, unthrottled;
- answers: the image artefact run on both samples of every photo, compared as the
  build's gate compares (top-1 agreement, largest change in the winning class's
  probability), because the gate itself measured the full decode.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from build_support.progress import step
from local_lambda import bench_report
from local_lambda.bench_cold_start import BenchmarkError, case_inputs
from ml_runtime import images

logger = logging.getLogger("local_lambda.bench_decode")
# The image-classification cases of modelpack.bench_cases, named here so that --help
# needs no torch import.
IMAGE_CASES = ("image", "image-resnet18")

PHOTO_SIZE = (4000, 3000)  # 12 MP, a common phone camera's
JPEG_QUALITY = 90
NOISE_SIGMA = 4.0  # camera-like grain, in 0-255 levels
SEED = 7
# This benchmark's own bar: worth turning on, and the answers stay the model's.
TARGETS = {"speedup_min": 2.0, "top1_agreement_min": 0.99}


def photos(pictures: Sequence[Path], size: tuple[int, int], seed: int = SEED) -> list[bytes]:
    """Each picture scaled to ``size`` with grain added, as JPEG bytes (deterministic)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    made = []
    for path in pictures:
        with Image.open(path) as picture:
            large = picture.convert("RGB").resize(size, Image.Resampling.BICUBIC)
        grain = rng.normal(0.0, NOISE_SIGMA, (size[1], size[0], 1))
        noisy = np.clip(np.asarray(large, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(noisy).save(buffer, "JPEG", quality=JPEG_QUALITY)
        made.append(buffer.getvalue())
    return made


def run(args: argparse.Namespace) -> dict[str, Any]:
    from modelpack.image_data import image_files

    artifact, folder = _inputs(args)
    manifest = json.loads((artifact / "manifest.json").read_text())
    if manifest.get("task") != "image-classification":
        raise BenchmarkError(f"{artifact} is not an image-classification artefact")
    spec = images.Preprocess.from_manifest(manifest.get("preprocess"))
    if not folder.is_dir():
        raise BenchmarkError(f"{folder} is not a folder; give --pictures a folder of pictures")
    # The build's own listing of --images: JPEG/PNG/WebP files, sub-folders too, by path.
    held_out = image_files(folder)[: args.photos]
    if not held_out:
        raise BenchmarkError(f"{folder} holds no JPEG, PNG or WebP pictures")
    size = (args.width, args.height)
    limits = images.ImageLimits(max_bytes=64 * 1_048_576, max_pixels=size[0] * size[1])
    with step(logger, f"make {len(held_out)} photos of {size[0]}x{size[1]}"):
        jpegs = photos(held_out, size)
    timings: dict[str, list[float]] = {"full": [], "fast": []}
    samples: dict[str, list[np.ndarray]] = {"full": [], "fast": []}
    with step(logger, "decode each photo both ways", total=len(jpegs), unit="photos") as progress:
        for index, data in enumerate(jpegs):
            order = ("full", "fast") if index % 2 == 0 else ("fast", "full")
            for way in order:
                started = time.perf_counter()
                sample = images.load(data, spec, limits, fast_jpeg=way == "fast")
                timings[way].append((time.perf_counter() - started) * 1000)
                samples[way].append(sample)
            progress.advance()
    answers = _answers(artifact, manifest, samples)
    full_ms = statistics.median(timings["full"])
    fast_ms = statistics.median(timings["fast"])
    report: dict[str, Any] = {
        "photos": len(jpegs),
        "photo_size": list(size),
        "photo_mb_mean": round(sum(len(j) for j in jpegs) / len(jpegs) / 1e6, 2),
        "full_decode_p50_ms": round(full_ms, 1),
        "fast_decode_p50_ms": round(fast_ms, 1),
        "speedup": round(full_ms / fast_ms, 2),
        **answers,
        "targets": TARGETS,
        "settings": {
            "artifact": str(artifact),
            "model_input": manifest["preprocess"],
            "jpeg_quality": JPEG_QUALITY,
            "noise_sigma": NOISE_SIGMA,
            "timed": "ml_runtime.images.load per photo, one thread, the two ways alternating",
        },
        "machine": bench_report.machine(),
        **bench_report.provenance(__spec__.name if __spec__ else __name__),
    }
    report["targets_met"] = {
        "speedup": report["speedup"] >= TARGETS["speedup_min"],
        "top1_agreement": report["top1_agreement"] >= TARGETS["top1_agreement_min"],
    }
    return report


def _inputs(args: argparse.Namespace) -> tuple[Path, Path]:
    """The artefact and the folder of pictures: both given, or ``args.case``'s (its
    artefact and held-out pictures, made once)."""
    if args.artifact is not None and args.pictures is not None:
        if not (args.artifact / "manifest.json").is_file():
            raise BenchmarkError(f"{args.artifact} holds no manifest.json")
        return args.artifact.resolve(), args.pictures
    case = argparse.Namespace(case=args.case, artifact=args.artifact, model_dir=args.model_dir)
    artifact, model_dir = case_inputs(case)
    if model_dir is None:
        raise BenchmarkError(f"the {args.case} case has no model directory")
    return artifact, args.pictures or model_dir / "heldout"


def _answers(
    artifact: Path, manifest: dict[str, Any], samples: dict[str, list[np.ndarray]]
) -> dict[str, Any]:
    """The artefact's answers for both decodes of every photo, compared as the gate does."""
    from modelpack.evaluate import session, winning_probability_changes

    model = session(artifact / manifest["model_file"], threads=1)
    name = manifest["preprocess"]["input_name"]
    logits = {
        way: np.concatenate([model.run(None, {name: s[None]})[0] for s in batch])
        for way, batch in samples.items()
    }
    agreement = logits["fast"].argmax(axis=1) == logits["full"].argmax(axis=1)
    change = winning_probability_changes(
        logits["full"], logits["fast"], manifest["classification"]["activation"]
    )
    return {
        "top1_agreement": round(float(agreement.mean()), 4),
        "max_winning_probability_delta": round(float(change.max()), 4),
        "winning_probability_delta_p99": round(float(np.percentile(change, 99)), 4),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--case",
        choices=IMAGE_CASES,
        default="image",
        help="the image case whose artefact and pictures to use (default: image, MobileNetV2)",
    )
    parser.add_argument("--artifact", type=Path, help="the case's artefact (default: built once)")
    parser.add_argument("--model-dir", type=Path, help="the case's model directory")
    parser.add_argument(
        "--pictures",
        type=Path,
        help="JPEG, PNG or WebP pictures, sub-folders too, to scale up into photos (default:"
        " the case's held-out pictures); with --artifact, measures any image artefact",
    )
    parser.add_argument("--report", type=Path, default=Path("reports/bench-decode.json"))
    parser.add_argument("--photos", type=int, default=60, help="held-out pictures to use")
    parser.add_argument("--width", type=int, default=PHOTO_SIZE[0])
    parser.add_argument("--height", type=int, default=PHOTO_SIZE[1])
    args = parser.parse_args(argv)
    if args.photos < 1 or args.width < 1 or args.height < 1:
        parser.error("--photos, --width and --height must be positive")
    return bench_report.run_and_write(
        logger,
        run,
        args,
        report_path=args.report,
        headline=(
            "speedup",
            "full_decode_p50_ms",
            "fast_decode_p50_ms",
            "top1_agreement",
            "max_winning_probability_delta",
        ),
        failure=BenchmarkError,
    )


if __name__ == "__main__":
    raise SystemExit(main())
