"""The naive baselines' classifiers: the same preprocessing numbers as the build, answers
shaped like Hugging Face's pipelines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from modelpack.image_data import image_files
from modelpack.images import load_rgb, preprocess_files
from modelpack.preprocess_config import from_hf_directory
from naive_reference.classifiers import ImageClassifier, TextClassifier


def test_naive_image_preprocessing_matches_the_manifest_block(
    tiny_vit_dir: Path, pattern_images: Path
) -> None:
    naive = ImageClassifier(tiny_vit_dir)
    paths = image_files(pattern_images)[:6]
    ours = preprocess_files(paths, from_hf_directory(tiny_vit_dir))
    theirs = torch.stack([naive.pixels(load_rgb(p)) for p in paths]).numpy()
    np.testing.assert_allclose(theirs, ours, atol=1e-5)


def test_naive_image_answers_are_sorted_label_scores(
    tiny_vit_dir: Path, pattern_images: Path
) -> None:
    naive = ImageClassifier(tiny_vit_dir)
    answers = naive.classify([load_rgb(image_files(pattern_images)[0])], top_k=2)
    assert len(answers) == 1 and len(answers[0]) == 2
    assert {a["label"] for a in answers[0]} <= {"stripes", "checks", "blob"}
    assert answers[0][0]["score"] >= answers[0][1]["score"]


def test_naive_text_classifier_softmax_and_sigmoid(
    tiny_bert_classifier_dir: Path, tiny_distilbert_multilabel_dir: Path
) -> None:
    single = TextClassifier(tiny_bert_classifier_dir).classify(["the cat", "fast lambda"], top_k=2)
    assert [len(a) for a in single] == [2, 2]
    assert all(abs(sum(p["score"] for p in a) - 1.0) < 1e-5 for a in single)
    multi = TextClassifier(tiny_distilbert_multilabel_dir)
    assert multi.multi_label is True
    scores = [p["score"] for p in multi.classify(["the dog runs"], top_k=3)[0]]
    assert len(scores) == 3 and all(0.0 < s < 1.0 for s in scores)
