"""``local_lambda.bench_decode`` on the tiny colour classifier: photos made from pictures,
both decodes timed and their answers compared, and the report it writes."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from local_lambda import bench_decode
from local_lambda.bench_cold_start import BenchmarkError
from tests.runtime.classifier_artifacts import COLOUR_LABELS, colour_image


def _pictures(folder: Path) -> Path:
    folder.mkdir()
    for index, colour in enumerate(COLOUR_LABELS * 2):
        (folder / f"{index:02d}-{colour}.png").write_bytes(colour_image(colour, (60, 40)))
    (folder / "notes.txt").write_text("not a picture")
    return folder


def test_the_report_compares_both_decodes_of_every_photo(
    image_artifact: Path, tmp_path: Path
) -> None:
    pictures = _pictures(tmp_path / "pictures")
    report_path = tmp_path / "bench-decode.json"
    status = bench_decode.main(
        [
            "--artifact",
            str(image_artifact),
            "--pictures",
            str(pictures),
            "--photos",
            "4",
            "--width",
            "800",
            "--height",
            "600",
            "--report",
            str(report_path),
        ]
    )
    assert status == 0
    report = json.loads(report_path.read_text())
    assert report["photos"] == 4 and report["photo_size"] == [800, 600]
    assert report["full_decode_p50_ms"] > 0 and report["fast_decode_p50_ms"] > 0
    # Solid colours with grain: the reduced decode keeps every answer.
    assert report["top1_agreement"] == 1.0
    assert 0 <= report["max_winning_probability_delta"] < 0.05
    assert set(report["targets_met"]) == {"speedup", "top1_agreement"}
    assert "local_lambda.bench_decode" in report["command"]


def test_photos_are_jpegs_of_the_asked_size_and_follow_their_seed(tmp_path: Path) -> None:
    pictures = sorted(_pictures(tmp_path / "pictures").glob("*.png"))[:2]
    made = bench_decode.photos(pictures, (320, 240))
    assert made == bench_decode.photos(pictures, (320, 240))
    for data in made:
        with Image.open(io.BytesIO(data)) as photo:
            assert (photo.format, photo.size) == ("JPEG", (320, 240))


def test_a_text_artefact_or_an_empty_folder_is_a_clear_failure(
    sentiment_artifact: Path, image_artifact: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for artifact, folder, message in (
        (sentiment_artifact, empty, "is not an image-classification artefact"),
        (image_artifact, empty, "holds no JPEG, PNG or WebP pictures"),
        (image_artifact, tmp_path / "missing", "is not a folder; give --pictures a folder"),
    ):
        args = argparse.Namespace(
            artifact=artifact, pictures=folder, model_dir=None, photos=2, width=64, height=48
        )
        with pytest.raises(BenchmarkError, match=message):
            bench_decode.run(args)
