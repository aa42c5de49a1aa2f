"""The pipeline benchmark's batch of mixed-length texts."""

from __future__ import annotations

from modelpack.bench import mixed_batch


def test_mixed_batch_spans_shortest_to_longest() -> None:
    texts = [f"{'word ' * n}".strip() for n in range(1, 21)]
    batch = mixed_batch(texts, size=4)
    assert len(batch) == 4
    assert batch[0] == "word" and batch[-1] == texts[-1]
    assert [len(t) for t in batch] == sorted(len(t) for t in batch)
