"""Wide layers and large batches, where the GEMMs decide: one epoch over
20,000 random rows of 784 -> width -> width -> 10 (ReLU, softmax, Adam),
width in {1024, 4096}, batch in {128, 1024}, fastnn and PyTorch eager, each
in its own process.  Target (bench/report.py): fastnn no slower than torch.
FASTNN_BENCH_WIDE_ROUNDS epochs (default 2) after one warm-up.

    pytest bench/bench_wide.py --benchmark-only
"""
import os

import pytest

ROUNDS = int(os.environ.get("FASTNN_BENCH_WIDE_ROUNDS", "2"))
CASES = [(w, b, impl) for w in (1024, 4096) for b in (128, 1024) for impl in ("fastnn", "torch")]


@pytest.mark.parametrize("width,batch,impl", CASES, ids=[f"w{w}-b{b}-{i}" for w, b, i in CASES])
def bench_wide(measure, threads, width, batch, impl):
    measure("wide", impl, dict(width=width, batch=batch),
            group=f"wide w={width} batch={batch}, {threads} thread(s)", threads=threads,
            epochs=True, rounds=ROUNDS)
