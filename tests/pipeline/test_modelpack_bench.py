"""The pipeline benchmark's helpers: what it records about the CPU, and the batch it times."""

from __future__ import annotations

from pathlib import Path

from modelpack.bench import cpu_description, mixed_batch

X86_CPUINFO = """processor\t: 0
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx avx2 avx512f avx512bw avx512_vnni sha_ni

processor\t: 1
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx avx2 avx512f avx512bw avx512_vnni sha_ni
"""
GRAVITON_CPUINFO = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics asimddp i8mm bf16
CPU implementer\t: 0x41
"""


def test_cpu_description_names_the_int8_extensions(tmp_path: Path) -> None:
    x86 = tmp_path / "x86"
    x86.write_text(X86_CPUINFO)
    assert cpu_description(x86) == {
        "cpu_model": "AMD EPYC 9R14",
        "cpu_int8_extensions": ["avx2", "avx512_vnni", "avx512bw", "avx512f"],
    }
    arm = tmp_path / "arm"
    arm.write_text(GRAVITON_CPUINFO)
    assert cpu_description(arm) == {
        "cpu_model": "unknown",
        "cpu_int8_extensions": ["asimddp", "i8mm"],
    }
    assert cpu_description(tmp_path / "absent") == {}


def test_mixed_batch_spans_shortest_to_longest() -> None:
    texts = [f"{'word ' * n}".strip() for n in range(1, 21)]
    batch = mixed_batch(texts, size=4)
    assert len(batch) == 4
    assert batch[0] == "word" and batch[-1] == texts[-1]
    assert [len(t) for t in batch] == sorted(len(t) for t in batch)
