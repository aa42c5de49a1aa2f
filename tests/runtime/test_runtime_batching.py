"""Texts grouped by token length into micro-batches give the results of one-at-a-time runs."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ml_runtime.artifact import verify_artifact
from ml_runtime.config import RuntimeConfig, TextBatching
from ml_runtime.model import InferenceModel, micro_batches

WORDS = ["cold", "starts", "are", "the", "enemy", "of", "ml", "on", "lambda", "warm", "hello"]


def mixed_texts(count: int, seed: int = 13) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(1, 30))) for _ in range(count)]


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(
        np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    )


@given(
    lengths=st.lists(st.integers(min_value=1, max_value=300), max_size=200),
    max_records=st.integers(min_value=1, max_value=64),
    max_tokens=st.integers(min_value=1, max_value=4096),
)
def test_micro_batches_cover_every_text_once_within_the_limits(
    lengths: list[int], max_records: int, max_tokens: int
) -> None:
    batches = micro_batches(lengths, TextBatching(max_records, max_tokens))
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert len(batch) <= max_records
        assert len(batch) == 1 or len(batch) * longest <= max_tokens
    if len(batches) > 1:  # sorted by length: each batch starts where the last one ended
        ordered = [lengths[i] for batch in batches for i in batch]
        assert ordered == sorted(ordered)


def test_grouped_results_equal_one_at_a_time_in_input_order(text_artifact: Path) -> None:
    manifest = verify_artifact(text_artifact)
    grouped = InferenceModel(text_artifact, manifest, threads=1, batching=TextBatching(8, 64))
    texts = mixed_texts(100)
    lengths = grouped.token_counts(texts)
    assert len(set(lengths)) > 5 and len(micro_batches(lengths, grouped.batching)) > 10
    together = grouped.run_texts(texts)["sentence_embedding"]
    alone = np.concatenate([grouped.run_texts([t])["sentence_embedding"] for t in texts])
    assert together.shape == alone.shape == (100, 8)
    assert cosine(together, alone).min() >= 0.9999
    padded = grouped.run_padded_batch(texts)["sentence_embedding"]
    assert cosine(padded, alone).min() >= 0.9999


def test_a_request_that_fits_one_micro_batch_runs_in_input_order(text_artifact: Path) -> None:
    manifest = verify_artifact(text_artifact)
    model = InferenceModel(text_artifact, manifest, threads=1)
    texts = ["hello", "cold starts are the enemy of ml on lambda", "warm"]
    assert micro_batches([3, 11, 3], model.batching) == [[0, 1, 2]]
    np.testing.assert_array_equal(
        model.run_texts(texts)["sentence_embedding"],
        model.run_padded_batch(texts)["sentence_embedding"],
    )


def test_batching_limits_come_from_the_environment() -> None:
    config = RuntimeConfig.from_environment({"S3_BATCH_SIZE": "16", "BATCH_MAX_TOKENS": "2048"})
    assert config.batching == TextBatching(max_records=16, max_tokens=2048)
